"""Tanba's one settings object: every default lives here, documented.

Settings come from three places, later ones winning: the defaults below, the
environment (``TANBA_*`` variables, for deployment) and the command line
(``tanba --home DIR``). Secrets are read only from the environment and never
written to disk or logs.

pydantic-settings reads and converts the variables; each field names its variable
and says what it means, which is the documentation the README points to (keep it
in sync with ``tanba settings``, which prints this table). An empty variable counts
as unset. A value that does not convert, or a combination that cannot work, is a
:class:`~tanba.core.exceptions.SettingsError` naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tanba.core.exceptions import SettingsError
from tanba.core.shards import Shard

EMBEDDED = "embedded"
# What TANBA_NAMESPACE may hold: valid in Kafka topic names and in Elasticsearch index names.
NAMESPACE_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


# The variables :meth:`Settings.from_env` reads instead of os.environ (a mapping given to it).
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("tanba_environ", default=None)


def setting(default: Any, env: str, doc: str) -> Any:
    """Declare one setting: its default, its environment variable and what it means."""
    return Field(default, validation_alias=env, description=doc)


class Settings(BaseSettings):
    """All knobs of a Tanba installation; build it with :meth:`from_env`."""

    model_config = SettingsConfigDict(
        frozen=True,
        populate_by_name=True,
        env_ignore_empty=True,
        case_sensitive=True,
        extra="ignore",
    )

    home: Path = setting(
        Path(".tanba"),
        "TANBA_HOME",
        "Directory that holds all embedded state: blobs, captures, registry, bus, alerts.",
    )
    bus: str = setting(
        EMBEDDED,
        "TANBA_BUS",
        "Message bus between stages: 'embedded' (SQLite under home) or 'kafka://host:port[,host:port]'.",
    )
    store: str = setting(
        EMBEDDED,
        "TANBA_STORE",
        "Alert store: 'embedded' (SQLite under home) or an Elasticsearch URL 'http://host:9200'.",
    )
    blobs: str = setting(
        EMBEDDED,
        "TANBA_BLOBS",
        "Where media, reference files and WARC captures are kept: 'embedded' (files under "
        "home/blobs and home/captures; every stage must share that file system) or "
        "'s3://BUCKET[/PREFIX]' (an S3-compatible object store, see TANBA_S3_ENDPOINT; no "
        "shared file system needed).",
    )
    s3_endpoint: str = setting(
        "",
        "TANBA_S3_ENDPOINT",
        "URL of the S3-compatible server when TANBA_BLOBS is s3:// (e.g. "
        "'http://127.0.0.1:8333' for scripts/services' S3Proxy); empty means Amazon S3 itself.",
    )
    s3_region: str = setting(
        "us-east-1",
        "TANBA_S3_REGION",
        "Region the S3 requests are signed for (most S3-compatible servers accept any).",
    )
    s3_access_key: str = setting(
        "",
        "TANBA_S3_ACCESS_KEY",
        "Access key id for the object store; empty means boto3's usual chain "
        "(AWS_ACCESS_KEY_ID, ~/.aws/credentials, an instance role).",
    )
    s3_secret_key: SecretStr = setting(
        SecretStr(""),
        "TANBA_S3_SECRET_KEY",
        "Secret key that goes with TANBA_S3_ACCESS_KEY (read from the environment only; "
        "'tanba settings' shows it masked).",
    )
    s3_part_mb: int = setting(
        16,
        "TANBA_S3_PART_MB",
        "Objects larger than this many MiB are uploaded in parts of this size (S3 multipart), "
        "several at once; at least 5 (S3's smallest part).",
    )
    media_max_bytes: int = setting(
        64 * 1024 * 1024,
        "TANBA_MEDIA_MAX_BYTES",
        "Largest media file the crawler downloads, in bytes; larger ones are skipped with a reason.",
    )
    page_max_bytes: int = setting(
        8 * 1024 * 1024,
        "TANBA_PAGE_MAX_BYTES",
        "Largest HTML page the crawler reads, in bytes.",
    )
    fetch_timeout_s: float = setting(
        30.0,
        "TANBA_FETCH_TIMEOUT_S",
        "Seconds before one HTTP request is abandoned.",
    )
    crawl_delay_s: float = setting(
        0.25,
        "TANBA_CRAWL_DELAY_S",
        "Seconds between two requests to one domain (politeness; Scrapy's DOWNLOAD_DELAY).",
    )
    crawl_concurrency_per_domain: int = setting(
        4,
        "TANBA_CRAWL_CONCURRENCY_PER_DOMAIN",
        "Concurrent requests per domain.",
    )
    crawler_jobs: int = setting(
        8,
        "TANBA_CRAWLER_JOBS",
        "Crawl jobs (one site each) one crawler process runs at once; 'tanba worker crawler' and 'tanba crawl'.",
    )
    crawl_frame_hops: int = setting(
        2,
        "TANBA_CRAWL_FRAME_HOPS",
        "Players (iframes) a page embeds are fetched on any host, for their page and media only,"
        " up to this many frames deep (a player inside a player is 2); 0 fetches none.",
    )
    stream_max_segments: int = setting(
        12,
        "TANBA_STREAM_MAX_SEGMENTS",
        "Segments sampled from one stream (HLS, DASH), spread evenly over its duration.",
    )
    stream_max_bytes: int = setting(
        32 * 1024 * 1024,
        "TANBA_STREAM_MAX_BYTES",
        "Bytes fetched for one stream at most: its playlists, init segments and sampled segments.",
    )
    stream_max_seconds: float = setting(
        120.0,
        "TANBA_STREAM_MAX_SECONDS",
        "Seconds of a stream sampled at most (the sampled segments' durations added up).",
    )
    stream_manifest_max_bytes: int = setting(
        4 * 1024 * 1024,
        "TANBA_STREAM_MANIFEST_MAX_BYTES",
        "Largest HLS playlist or DASH manifest read, in bytes (a 2-hour film in 2 s segments"
        " is about 200 KB).",
    )
    user_agent: str = setting(
        "TanbaBot/0.1 (+https://tanba.invalid/bot)",
        "TANBA_USER_AGENT",
        "User-Agent the crawler announces (robots.txt rules for this agent apply).",
    )
    image_max_pixels: int = setting(
        80_000_000,
        "TANBA_IMAGE_MAX_PIXELS",
        "Images with more pixels than this are refused (decompression-bomb guard).",
    )
    audio_max_seconds: int = setting(
        10_800,
        "TANBA_AUDIO_MAX_SECONDS",
        "Audio is fingerprinted up to this many seconds (a film's soundtrack of 3 hours); "
        "longer files are cut there.",
    )
    decode_timeout_s: float = setting(
        60.0,
        "TANBA_DECODE_TIMEOUT_S",
        "Seconds one file's decoding may take (in the fingerprint sandbox) before it is stopped.",
    )
    video_max_seconds: int = setting(
        14_400,
        "TANBA_VIDEO_MAX_SECONDS",
        "A video's picture is fingerprinted up to this many seconds (a film of 4 hours); "
        "its soundtrack up to TANBA_AUDIO_MAX_SECONDS.",
    )
    video_decode_timeout_s: float = setting(
        900.0,
        "TANBA_VIDEO_DECODE_TIMEOUT_S",
        "Seconds decoding one video's picture may take before it is stopped, and its soundtrack "
        "as much again (bench/video.py measures how fast films decode on one core).",
    )
    video_sparse_after_s: float = setting(
        600.0,
        "TANBA_VIDEO_SPARSE_AFTER_S",
        "A video declaring at least this many seconds (a film, not a clip) is sampled in a "
        "window after each keyframe only, not twice a second throughout (about 2.5x faster on "
        "720p H.264; see bench/video.py and tanba/fingerprint/video.py).",
    )
    video_max_distance: int = setting(
        64,
        "TANBA_VIDEO_MAX_DISTANCE",
        "Video match: largest Hamming distance (of 256 bits) at which two frames agree "
        "(chosen by python -m bench.video on its tuning split).",
    )
    video_min_frames: int = setting(
        6,
        "TANBA_VIDEO_MIN_FRAMES",
        "Video match: frames (two a second) that must agree on one time offset.",
    )
    video_min_share: float = setting(
        0.3,
        "TANBA_VIDEO_MIN_SHARE",
        "Video match: share of the copy's frames over the aligned span that must agree.",
    )
    image_max_distance: int = setting(
        7,
        "TANBA_IMAGE_MAX_DISTANCE",
        "Image match: largest Hamming distance (of 64 bits) between a copy's window pHash and a "
        "work's for the pair to be a candidate (the index search radius; calibrated by make "
        "bench-quality).",
    )
    image_probe_bits: int = setting(
        1,
        "TANBA_IMAGE_PROBE_BITS",
        "Image match: how many bits deep each of the index's three hash chunks is probed. Pairs "
        "within 3 × this + 2 bits are always found, further ones often; 2 makes the search "
        "exact at the default radius and reads ten times more of the catalogue.",
    )
    image_min_similarity: float = setting(
        0.94,
        "TANBA_IMAGE_MIN_SIMILARITY",
        "Image match: least cosine similarity (0..1) of a candidate pair's DCT descriptors for "
        "a match; it is the match score (calibrated by make bench-quality).",
    )
    image_aligned_similarity: float = setting(
        0.80,
        "TANBA_IMAGE_ALIGNED_SIMILARITY",
        "Image match: a window pair whose descriptors agree by at least this, but less than "
        "TANBA_IMAGE_MIN_SIMILARITY, is scored again with the work's window cut from its "
        "thumbnail at the detail check's best alignment (a crop a few percent off the work's "
        "windows), when the work is large and its window shows enough (the two settings below) "
        "and every other test passes; that score must reach TANBA_IMAGE_MIN_SIMILARITY. "
        "0 turns the route off.",
    )
    image_aligned_min_side: int = setting(
        200,
        "TANBA_IMAGE_ALIGNED_MIN_SIDE",
        "Image match: the least short side (px) of a work for TANBA_IMAGE_ALIGNED_SIMILARITY "
        "(chosen on python -m bench.real_catalogue --split calibration: icons, sprites and "
        "symbols are where sketches agree by chance).",
    )
    image_aligned_min_entropy: float = setting(
        2.4,
        "TANBA_IMAGE_ALIGNED_MIN_ENTROPY",
        "Image match: the least entropy (bits of 16 grey levels) of the work's window for "
        "TANBA_IMAGE_ALIGNED_SIMILARITY (chosen on the calibration halves of bench.quality "
        "and bench.real_catalogue).",
    )
    image_min_detail: float = setting(
        0.93,
        "TANBA_IMAGE_MIN_DETAIL",
        "Image match: least cosine similarity (0..1) of the finer coefficients of a candidate's "
        "window pair, the copy's against the work's cut from its thumbnail (calibrated by "
        "python -m bench.real_catalogue --split calibration); prints made before the detail "
        "check skip it.",
    )
    image_lookalike_similarity: float = setting(
        0.90,
        "TANBA_IMAGE_LOOKALIKE_SIMILARITY",
        "Image match: descriptor similarity at which a registered work counts as a look-alike "
        "of a copy's window (see TANBA_IMAGE_MAX_LOOKALIKES).",
    )
    image_max_lookalikes: int = setting(
        2,
        "TANBA_IMAGE_MAX_LOOKALIKES",
        "Image match: a copy's window that looks like more registered works than this is too "
        "plain to be evidence (a dot, a frame, a blank button); 0 turns the rule off.",
    )
    image_max_stretch: float = setting(
        0.10,
        "TANBA_IMAGE_MAX_STRETCH",
        "Image match: how far (log of the ratio, 0.10 is about 10%) a window pair may stretch the "
        "copy's proportions against the work's before it is no evidence (a copy keeps the "
        "picture's proportions; calibrated by python -m bench.real_catalogue --split "
        "calibration); 0 turns the test off.",
    )
    image_min_windows: int = setting(
        1,
        "TANBA_IMAGE_MIN_WINDOWS",
        "Image match: how many of the copy's windows must place it at one place on the work "
        "(a copy's windows agree with one another, a look-alike's rarely do); 1 turns the "
        "test off.",
    )
    image_min_entropy: float = setting(
        2.0,
        "TANBA_IMAGE_MIN_ENTROPY",
        "Image match: a work smaller than TANBA_IMAGE_SMALL_SIDE px on a side whose only window "
        "pair with the copy shows fewer grey levels than this (entropy in bits of 16 levels, "
        "cut from its thumbnail: a disc, a checker, a frame on blank ground) is not matched "
        "(chosen on python -m bench.real_catalogue --split calibration); 0 turns the rule off.",
    )
    image_small_side: int = setting(
        64,
        "TANBA_IMAGE_SMALL_SIDE",
        "Image match: the short side (px) under which a registered work is small for "
        "TANBA_IMAGE_MIN_ENTROPY.",
    )
    image_max_levels: float = setting(
        14.0,
        "TANBA_IMAGE_MAX_LEVELS",
        "Image match: the most grey levels (0-255, mean over a 4 x 4 grid of the work's window) "
        "a window pair's copy may differ from the work by, past the best brightness and contrast "
        "change allowed (slope 0.7-1.35, offset up to 70), both cut from the pictures' 64 x 64 "
        "thumbnails where the pair places the copy (chosen on python -m bench.real_catalogue "
        "--split calibration: 57 -> 46 false pairs, the recall rows unchanged; 12 loses a "
        "cropped graphic); copies printed before the check skip it; 0 turns it off.",
    )
    image_max_texture: float = setting(
        4.0,
        "TANBA_IMAGE_MAX_TEXTURE",
        "Image match: the most grey levels a window pair's copy texture (the quarter quantile of "
        "its gradient magnitudes over the work's window, 16 x 16 samples of the 64 x 64 "
        "thumbnails where the pair places the copy) may exceed twice the work's, scaled by the "
        "grey-level fit's slope: a textured planet or radar against a flat disc (chosen on python "
        "-m bench.real_catalogue --split calibration replayed: 46 -> 40 false pairs, the recall "
        "rows unchanged; 2.5 loses 2 graphics); copies printed before the check skip it; 0 "
        "turns it off.",
    )
    audio_max_ber: float = setting(
        0.22,
        "TANBA_AUDIO_MAX_BER",
        "Audio match: largest bit error rate over an aligned span of TANBA_AUDIO_FULL_SPAN_ITEMS "
        "or more (0.5 is chance; calibrated by make bench-quality).",
    )
    audio_min_items: int = setting(
        16,
        "TANBA_AUDIO_MIN_ITEMS",
        "Audio match: fewest aligned fingerprint items (about 0.124 s each) a match needs; "
        "a 5 s excerpt yields about 19.",
    )
    audio_full_span_items: int = setting(
        64,
        "TANBA_AUDIO_FULL_SPAN_ITEMS",
        "Audio match: a shorter aligned span must have a lower BER, TANBA_AUDIO_MAX_BER times "
        "sqrt(span / this), as chance agreement grows on few items.",
    )
    audio_min_llr: float = setting(
        4.0,
        "TANBA_AUDIO_MIN_LLR",
        "Audio match, second test (for a voice or noise over the music, where the BER is too "
        "high): least mean log-likelihood ratio per item of the classifiers' codes over the "
        "aligned span (model: tanba/matcher/chromaprint_llr.json), times sqrt(TANBA_AUDIO_FULL_SPAN_"
        "ITEMS / span) on shorter spans; 0 turns the test off (chosen on the calibration half of "
        "python -m bench.audio_catalogue's queries at 100,000 tracks: 3.5 let one through).",
    )
    audio_landmark_min_votes: int = setting(
        5,
        "TANBA_AUDIO_LANDMARK_MIN_VOTES",
        "Audio match, landmark path (excerpts under a voice): fewest peak-pair hash hits "
        "(of the quarter of hashes the index keeps) on one time offset within about 10 s of "
        "the copy for a work to be a candidate, which Chromaprint then verifies; 0 turns the "
        "path off (chosen on the calibration half of python -m bench.audio_catalogue's queries "
        "at 100,000 tracks, where 4 gave six times the candidates to verify).",
    )
    audio_landmark_min_llr: float = setting(
        2.5,
        "TANBA_AUDIO_LANDMARK_MIN_LLR",
        "Audio match, landmark path: least mean log-likelihood ratio per item of the "
        "Chromaprint items over a candidate's aligned span (at least TANBA_AUDIO_MIN_ITEMS "
        "items, 40% of them moving) for it to match (chosen with the votes on the calibration "
        "half of python -m bench.audio_catalogue's queries at 100,000 tracks).",
    )
    audio_landmark_alone_votes: int = setting(
        0,
        "TANBA_AUDIO_LANDMARK_ALONE_VOTES",
        "Audio match, landmark path: fewest landmark hash hits on one offset within about 10 s "
        "of the copy for a work Chromaprint did not verify to match on the votes alone (a voice "
        "the LLR model never heard: python -m bench.quality --split unseen), leading every "
        "other work's hit 3 times over and its own other offsets 1.25 times (python -m "
        "bench.alone_votes); 0 (the default) turns it off: at 15 it finds most unseen "
        "voice-overs, but one unrelated whole unseen track still matched, and it was not "
        "measured at 100,000 tracks (README, Music never tuned on).",
    )
    audio_speed_min_votes: int = setting(
        0,
        "TANBA_AUDIO_SPEED_MIN_VOTES",
        "Audio match, copies at another speed (pitch and tempo changed together by 1% to 5%, "
        "a PAL speed-up): fewest landmark hash hits on one offset within about 10 s of the "
        "copy, its landmarks put back at one of the speeds searched, for a work Chromaprint "
        "did not match to match on the votes alone; 0 (the default) turns the search off. 15 "
        "was chosen on python -m bench.quality --calibrate-speed (never on --split unseen) and "
        "finds every speed-changed copy of the unseen set, but at 100,000 tracks it made the "
        "queries 3.5 times slower and matched 197 of python -m bench.audio_catalogue's "
        "derived tracks (landmarks of real ones moved in frequency), so it is opt-in.",
    )
    audio_llr_min_items: int = setting(
        32,
        "TANBA_AUDIO_LLR_MIN_ITEMS",
        "Audio match: fewest aligned items the second (LLR) test needs; shorter spans (a 5 s "
        "excerpt has about 19) are judged by the BER test and the landmark path, as among "
        "all alignments a voice-over one that short is not told apart from chance.",
    )
    batch_size: int = setting(
        64,
        "TANBA_BATCH_SIZE",
        "Messages a worker takes from the bus at once.",
    )
    matcher_batch_size: int = setting(
        256,
        "TANBA_MATCHER_BATCH_SIZE",
        "Fingerprints a matcher takes from the bus at once (at most; a poll takes what is "
        "there). A batch's alerts are one store write, which on Elasticsearch waits for a "
        "refresh and makes a segment in each index it touches: when the matcher lags, "
        "larger batches make fewer, larger ones (python -m bench.es_cpu).",
    )
    matcher_gather_s: float = setting(
        0.5,
        "TANBA_MATCHER_GATHER_S",
        "Seconds a matcher's batch that is not full goes on polling for more fingerprints "
        "before it is matched (0: a batch is what one poll returns). Each batch's store "
        "write on Elasticsearch waits for a refresh of every index it touches, whatever "
        "its size; a matcher keeping up wrote a batch of a few alerts every 0.2 to 0.4 s, "
        "and those refreshes were most of Elasticsearch's CPU (bench/pipeline_throughput.py).",
    )
    max_attempts: int = setting(
        3,
        "TANBA_MAX_ATTEMPTS",
        "Attempts at one message before it goes to the dead-letter topic.",
    )
    jurisdictions_file: str = setting(
        "",
        "TANBA_JURISDICTIONS",
        "Jurisdiction registry file; empty means the one shipped with Tanba.",
    )
    geoip: str = setting(
        "auto",
        "TANBA_GEOIP",
        "IP-to-country database for the server_ip signal: a .mmdb, .dat or .csv (network,country) file, 'auto' (Debian's geoip-database when installed) or 'none'.",
    )
    matcher_state: str = setting(
        "",
        "TANBA_MATCHER_STATE",
        "Directory where a matcher keeps its catalogues (images, audio, films) and works "
        "between runs (empty: home/matcher/shard-I-of-N; 'off': in memory, rebuilt from the works topic at each start). "
        "One matcher process per directory.",
    )
    matcher_shard: str = setting(
        "0/1",
        "TANBA_MATCHER_SHARD",
        "Which registered works this matcher holds: 'I/N' holds the works whose id hashes to I "
        "of N, and reads every fingerprint through a consumer group of its own (0/1: all).",
    )
    kafka_partitions: int = setting(
        4,
        "TANBA_KAFKA_PARTITIONS",
        "Partitions of each Kafka topic Tanba creates (crawl jobs get at least 16): the most "
        "processes of one stage that can share its work. Topics that already exist keep theirs "
        "(grow them with kafka-topics.sh --alter; see docs/scaling.md).",
    )
    metrics_port: int = setting(
        0,
        "TANBA_METRICS_PORT",
        "Port for a worker's Prometheus metrics; 0 turns the endpoint off.",
    )
    metrics_host: str = setting(
        "127.0.0.1",
        "TANBA_METRICS_HOST",
        "Address a worker's Prometheus metrics listen on: loopback by default; 0.0.0.0 where "
        "Prometheus scrapes from another machine or container.",
    )
    namespace: str = setting(
        "",
        "TANBA_NAMESPACE",
        "Prefix of Kafka topic and group names and Elasticsearch index names, so several installations (or test runs) share one cluster: lower-case letters, digits and '-'; empty for none.",
    )

    tsa_url: str = setting(
        "",
        "TANBA_TSA_URL",
        "RFC 3161 time-stamping authority for evidence manifests; empty means packages carry no timestamp token.",
    )
    evidence_templates: str = setting(
        "",
        "TANBA_EVIDENCE_TEMPLATES",
        "Directory of agency-edited notice templates, searched before the shipped ones (<CC>/notice.<lang>.txt.j2 ...).",
    )
    evidence_trust_store: str = setting(
        "",
        "TANBA_EVIDENCE_TRUST_STORE",
        "Evidence signing keys 'tanba evidence verify' trusts besides this installation's own: a directory of PEM public keys or one PEM file holding several (managed with 'tanba evidence trust'); empty means home/keys/trusted/.",
    )
    evidence_timezone: str = setting(
        "UTC",
        "TANBA_EVIDENCE_TIMEZONE",
        "Time zone of the dates in evidence reports and notices (an IANA name such as Europe/Moscow or Asia/Almaty); 'tanba evidence export --tz' overrides it per export.",
    )
    console_crawl_command: str = setting(
        "run",
        "TANBA_CONSOLE_CRAWL_COMMAND",
        "What the console's 'start crawl' and its scheduler do: 'run' (a process that publishes the crawl job, then crawls, fingerprints and matches: the embedded set-up), 'crawl' (a process that publishes the job and crawls it, when the other stages run as their own processes) or 'jobs' (publish the job only; 'tanba worker crawler' processes run it).",
    )
    console_allow_private_targets: bool = setting(
        False,
        "TANBA_CONSOLE_ALLOW_PRIVATE_TARGETS",
        "Let console targets set allow_private_addresses and --resolve entries (tests and demos only).",
    )
    console_session_hours: float = setting(
        12.0, "TANBA_CONSOLE_SESSION_HOURS", "Hours a console login session lasts without activity."
    )
    console_secure_cookies: bool = setting(
        False,
        "TANBA_CONSOLE_SECURE_COOKIES",
        "Mark console cookies Secure (set it when the console is served over HTTPS).",
    )
    console_page_size: int = setting(
        50, "TANBA_CONSOLE_PAGE_SIZE", "Alerts per page in the console's list."
    )
    console_cache_mb: int = setting(
        4096,
        "TANBA_CONSOLE_CACHE_MB",
        "Disk the console keeps for thumbnails, list cells and video frame sheets under home/console (MiB); past it, the pictures shown longest ago are deleted (they are made again when asked for); 0 means no limit.",
    )
    console_scheduler: bool = setting(
        True,
        "TANBA_CONSOLE_SCHEDULER",
        "Start scheduled crawls (targets with an interval) from the 'tanba console' process.",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``environ`` (``os.environ`` when None), then ``overrides`` (None skipped).

        Raises :class:`SettingsError` naming the variable when a value does not parse.
        """
        token = _ENVIRON.set(os.environ if environ is None else environ)
        try:
            settings = cls(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as exc:
            error = exc.errors()[0]
            name = ".".join(str(part) for part in error["loc"])
            raise SettingsError(
                f"{name}={error.get('input')!r} is not valid: {error['msg']}"
            ) from None
        finally:
            _ENVIRON.reset(token)
        return settings

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment :meth:`from_env` was given; no .env or secret files."""
        environ = _ENVIRON.get()
        if environ is not None and hasattr(env_settings, "env_vars"):
            env_settings.env_vars = {
                k: v for k, v in environ.items() if k.startswith("TANBA_") and v != ""
            }
        return (init_settings, env_settings)

    @model_validator(mode="after")
    def _workable(self) -> Settings:
        """Reject combinations that cannot work, saying which setting to change."""
        if self.bus != EMBEDDED and not self.bus.startswith("kafka://"):
            raise SettingsError(
                f"TANBA_BUS={self.bus!r} is not understood: use 'embedded' or "
                "'kafka://HOST:PORT[,HOST:PORT]'."
            )
        if self.store != EMBEDDED and not self.store.startswith(("http://", "https://")):
            raise SettingsError(
                f"TANBA_STORE={self.store!r} is not understood: use 'embedded' or an "
                "Elasticsearch URL such as 'http://127.0.0.1:9200'."
            )
        if self.blobs != EMBEDDED and not self.blobs.startswith("s3://"):
            raise SettingsError(
                f"TANBA_BLOBS={self.blobs!r} is not understood: use 'embedded' or "
                "'s3://BUCKET[/PREFIX]' (with TANBA_S3_ENDPOINT for a server other than AWS)."
            )
        if self.s3_part_mb < 5:
            raise SettingsError("TANBA_S3_PART_MB must be at least 5 (S3's smallest part).")
        if self.s3_access_key and not self.s3_secret_key.get_secret_value():
            raise SettingsError("TANBA_S3_ACCESS_KEY is set: set TANBA_S3_SECRET_KEY too.")
        if not 0 <= self.image_max_distance <= 64:
            raise SettingsError("TANBA_IMAGE_MAX_DISTANCE must be between 0 and 64.")
        if not 0 <= self.image_probe_bits <= 21:
            raise SettingsError("TANBA_IMAGE_PROBE_BITS must be between 0 and 21.")
        if not 0.0 <= self.image_min_similarity <= 1.0:
            raise SettingsError("TANBA_IMAGE_MIN_SIMILARITY must be between 0 and 1.")
        if not 0.0 <= self.image_aligned_similarity <= 1.0:
            raise SettingsError("TANBA_IMAGE_ALIGNED_SIMILARITY must be between 0 (off) and 1.")
        if self.image_aligned_min_side < 0:
            raise SettingsError("TANBA_IMAGE_ALIGNED_MIN_SIDE must be 0 (any work) or more px.")
        if not 0.0 <= self.image_aligned_min_entropy <= 4.0:
            raise SettingsError(
                "TANBA_IMAGE_ALIGNED_MIN_ENTROPY must be between 0 and 4 bits (16 grey levels)."
            )
        if not 0.0 <= self.image_min_detail <= 1.0:
            raise SettingsError("TANBA_IMAGE_MIN_DETAIL must be between 0 and 1.")
        if not 0.0 <= self.image_lookalike_similarity <= 1.0:
            raise SettingsError("TANBA_IMAGE_LOOKALIKE_SIMILARITY must be between 0 and 1.")
        if self.image_max_lookalikes < 0:
            raise SettingsError("TANBA_IMAGE_MAX_LOOKALIKES must be 0 (off) or more.")
        if self.image_max_stretch < 0:
            raise SettingsError("TANBA_IMAGE_MAX_STRETCH must be 0 (off) or more.")
        if self.image_min_windows < 1:
            raise SettingsError("TANBA_IMAGE_MIN_WINDOWS must be 1 (off) or more.")
        if not 0.0 <= self.image_min_entropy <= 4.0:
            raise SettingsError(
                "TANBA_IMAGE_MIN_ENTROPY must be between 0 (off) and 4 bits (16 grey levels)."
            )
        if self.image_max_levels < 0:
            raise SettingsError("TANBA_IMAGE_MAX_LEVELS must be 0 (off) or more grey levels.")
        if self.image_max_texture < 0:
            raise SettingsError("TANBA_IMAGE_MAX_TEXTURE must be 0 (off) or more grey levels.")
        if self.image_small_side < 0:
            raise SettingsError("TANBA_IMAGE_SMALL_SIDE must be 0 (no work is small) or more px.")
        if not 0.0 < self.audio_max_ber < 0.5:
            raise SettingsError("TANBA_AUDIO_MAX_BER must be above 0 and below 0.5 (chance).")
        if self.audio_min_items < 1 or self.audio_full_span_items < 1:
            raise SettingsError(
                "TANBA_AUDIO_MIN_ITEMS and TANBA_AUDIO_FULL_SPAN_ITEMS must be at least 1."
            )
        if self.audio_llr_min_items < 1:
            raise SettingsError("TANBA_AUDIO_LLR_MIN_ITEMS must be at least 1.")
        if self.audio_min_llr < 0:
            raise SettingsError("TANBA_AUDIO_MIN_LLR must be 0 (test off) or above.")
        if self.audio_landmark_min_votes < 0:
            raise SettingsError("TANBA_AUDIO_LANDMARK_MIN_VOTES must be 0 (path off) or above.")
        if self.audio_speed_min_votes < 0:
            raise SettingsError("TANBA_AUDIO_SPEED_MIN_VOTES must be 0 (path off) or above.")
        if self.audio_landmark_alone_votes < 0:
            raise SettingsError("TANBA_AUDIO_LANDMARK_ALONE_VOTES must be 0 (off) or above.")
        if self.crawler_jobs < 1:
            raise SettingsError(
                "TANBA_CRAWLER_JOBS must be at least 1 (sites a crawler runs at once)."
            )
        if not 0 <= self.video_max_distance <= 128:
            raise SettingsError("TANBA_VIDEO_MAX_DISTANCE must be between 0 and 128 (chance).")
        if self.video_min_frames < 1 or not 0.0 <= self.video_min_share <= 1.0:
            raise SettingsError(
                "TANBA_VIDEO_MIN_FRAMES must be at least 1 and TANBA_VIDEO_MIN_SHARE between 0 and 1."
            )
        if not 0 <= self.matcher_gather_s <= 60:
            raise SettingsError("TANBA_MATCHER_GATHER_S must be between 0 and 60 seconds.")
        if self.batch_size < 1 or self.matcher_batch_size < 1 or self.max_attempts < 1:
            raise SettingsError(
                "TANBA_BATCH_SIZE, TANBA_MATCHER_BATCH_SIZE and TANBA_MAX_ATTEMPTS must be "
                "at least 1."
            )
        if not 1 <= self.kafka_partitions <= 1024:
            raise SettingsError(
                "TANBA_KAFKA_PARTITIONS must be between 1 and 1024 (the most processes of one "
                "stage that share its topic)."
            )
        if self.console_crawl_command not in ("run", "crawl", "jobs"):
            raise SettingsError("TANBA_CONSOLE_CRAWL_COMMAND must be 'run', 'crawl' or 'jobs'.")
        if self.console_cache_mb < 0:
            raise SettingsError(
                "TANBA_CONSOLE_CACHE_MB must be 0 (no limit) or a size in MiB, not "
                f"{self.console_cache_mb}."
            )
        if not 1 <= self.console_page_size <= 500:
            raise SettingsError("TANBA_CONSOLE_PAGE_SIZE must be between 1 and 500.")
        Shard.parse(self.matcher_shard)
        if self.namespace and not NAMESPACE_PATTERN.fullmatch(self.namespace):
            raise SettingsError(
                f"TANBA_NAMESPACE={self.namespace!r} is not usable in Kafka and Elasticsearch "
                "names: use 1-40 lower-case letters, digits and '-', starting with a letter or digit."
            )
        return self

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (for tests and sub-commands); not validated again."""
        return self.model_copy(update=changes)

    def path(self, *parts: str) -> Path:
        """A path under the home directory, created on demand for its parent."""
        p = self.home.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    @staticmethod
    def documentation() -> list[tuple[str, str, str]]:
        """(variable, default, meaning) for every setting, for ``tanba settings`` and the README."""
        return [
            (str(f.validation_alias), str(f.default), f.description or "")
            for f in Settings.model_fields.values()
        ]

    def variables(self, reveal: bool = True) -> dict[str, str]:
        """Every setting as its variable and value: the environment that reproduces these.

        Secrets are given as they are (a child process needs them) unless ``reveal`` is
        False, as for printing.
        """
        return {
            str(f.validation_alias): _text(getattr(self, name), reveal)
            for name, f in Settings.model_fields.items()
        }


def _text(value: Any, reveal: bool) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value() if reveal else str(value)
    return str(value)

"""An exported WACZ replays in ReplayWeb.page, the viewer agencies use, in real headless Chromium.

``tanba evidence export`` runs as a subprocess on a real case of the demo web
(see conftest); the WACZ taken out of the package is served on loopback beside
ReplayWeb.page's own ``ui.js`` and ``sw.js`` (the npm package ``replaywebpage``,
installed by ``scripts/setup`` in ``.cache/replaywebpage``; nothing is
downloaded here) and an embedding page, as the viewer's embedding guide says:
the service worker at ``/replay/sw.js`` with scope ``/replay/``. Debian's
Chromium opens that page through Playwright; 127.0.0.1 is a secure context, so
the service worker runs over plain http. The archived page shows in the
viewer's innermost frame, and its image must come out of the archive, served
by the service worker, byte for byte the file the crawl found. The same
harness on a WACZ without the page, and on one whose WARC bytes are damaged,
must show the viewer's "not found" page instead: the replay checks above can
fail. Screenshots stay in ``test-artifacts/evidence/`` for a person to look at.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import (
    Browser,
    Frame,
    FrameLocator,
    Page,
    Response,
    expect,
)
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from tanba.app.demo.server import SiteServer
from tanba.evidence.wacz import Page as PageEntry
from tanba.evidence.wacz import WarcFile, build_wacz
from tests.support.cli import json_lines, ok, tanba

ROOT = Path(__file__).resolve().parents[2]
VIEWER = ROOT / ".cache" / "replaywebpage"
ARTIFACTS = ROOT / "test-artifacts" / "evidence"
VIEWER_FILES = ("ui.js", "sw.js")
WACZ = "web-archive.wacz"
# wabac.js names the frame that shows the archived page; the viewer's own frame holds it.
REPLAY_FRAME = "___wb_replay_top_frame"
NOT_FOUND = "Archived Page Not Found"  # wabac.js's page for a URL the archive lacks
WAIT_MS = 90_000  # a bound for a slow machine, never a measurement


@pytest.fixture(scope="module")
def viewer() -> dict[str, bytes]:
    """ReplayWeb.page's bundles as scripts/setup installed them (a missing one fails, never skips)."""
    missing = [name for name in VIEWER_FILES if not (VIEWER / name).is_file()]
    if missing:
        pytest.fail(
            f"ReplayWeb.page is not installed ({', '.join(missing)} missing in {VIEWER}):"
            " run scripts/setup"
        )
    return {name: (VIEWER / name).read_bytes() for name in VIEWER_FILES}


@dataclass(frozen=True)
class Exported:
    """The case as ``tanba evidence export`` wrote it, and what the crawl served."""

    alert: dict
    package: dict[str, bytes]
    wacz: dict[str, bytes]
    page_html: bytes  # the page as the demo site serves it
    media: bytes  # the infringing file as the demo site serves it

    @property
    def pages(self) -> list[dict]:
        """pages.jsonl's entries (its header line left out)."""
        return [e for e in json_lines(self.wacz["pages/pages.jsonl"].decode()) if "url" in e]

    def rebuilt(self, warcs: dict[str, bytes]) -> bytes:
        """A WACZ written by Tanba's own writer from ``warcs`` and this one's pages and metadata."""
        meta = json.loads(self.wacz["datapackage.json"])
        pages = [PageEntry(e["url"], e["ts"], e["title"]) for e in self.pages]
        files = [
            WarcFile(name.removeprefix("archive/"), data) for name, data in sorted(warcs.items())
        ]
        return build_wacz(files, pages, created=meta["created"], title=meta["title"])


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


@pytest.fixture(scope="module")
def exported(demo_case, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """The poster copy on kino.example.kz, exported by the real command (crawl and recapture)."""
    alert = next(
        a
        for a in json_lines(ok(tanba(demo_case.home, "alerts", "list", "--json")))
        if a["media_url"] == demo_case.url("kino.example.kz", "/img/a-small.jpg")
    )
    out = tmp_path_factory.mktemp("replay") / "case.zip"
    ok(
        tanba(
            demo_case.home, "evidence", "export", alert["id"], "-o", str(out), "--lang", "en",
            *demo_case.server.resolve_args(),
        )
    )  # fmt: skip
    package = unzip(out.read_bytes())
    page, media = (
        demo_case.server.lookup("kino.example.kz", p) for p in ("/films/1.html", "/img/a-small.jpg")
    )
    assert page is not None and media is not None
    return Exported(alert, package, unzip(package[WACZ]), page.body, media.body)


def title_of(page_html: bytes) -> str:
    found = re.search(rb"<title>(.*?)</title>", page_html, re.S)
    assert found, "the demo page has no title"
    return found.group(1).decode()


def embedding_page(url: str = "", ts: str = "") -> bytes:
    """The page an agency would host: ReplayWeb.page showing ``url`` at ``ts`` from the WACZ.

    Without ``url`` the viewer shows its list of the archive's pages instead.

    ``<replay-web-page>`` loads its frame as soon as its service worker is
    registered, not when it is active; on a first visit the frame can miss the
    worker and stay on the server's 404 (replayweb.page issue #412, seen here
    about once in 20 loads on a busy machine). So the page registers the very
    same worker (same script URL and scope, so the viewer's own registration
    reuses it), waits until it is active, and only then adds the viewer.
    """
    attributes = {
        "source": f"/case/{WACZ}",
        "replayBase": "/replay/",
        "embed": "replayonly" if url else "default",
        "style": "display:block;width:1280px;height:900px",
    }
    if url:
        attributes.update(url=url, ts=ts)
    attributes_js = json.dumps(attributes).replace("</", "<\\/")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Evidence replay</title>
<script src="/replay/ui.js"></script></head>
<body style="margin:0">
<script type="module">
const registration = await navigator.serviceWorker.register(
  "/replay/sw.js?serveIndex=1", {{scope: "/replay/"}});
const worker = registration.installing || registration.waiting || registration.active;
while (worker.state !== "activated") {{
  await new Promise(resolve => worker.addEventListener("statechange", resolve, {{once: true}}));
}}
const viewer = document.createElement("replay-web-page");
for (const [name, value] of Object.entries({attributes_js})) viewer.setAttribute(name, value);
document.body.append(viewer);
</script>
</body></html>""".encode()


@dataclass
class Replay:
    """The viewer open in a browser page; ``frame`` reaches the archived page inside it."""

    page: Page
    viewer: FrameLocator  # the viewer's own frame
    frame: FrameLocator  # the archived page inside it
    responses: list[Response]

    def archived_frame(self) -> Frame:
        found = self.page.frame(name=REPLAY_FRAME)
        assert found is not None, [f.url for f in self.page.frames]
        return found


@contextmanager
def replayed(
    browser: Browser, viewer: dict[str, bytes], wacz: bytes, url: str = "", ts: str = ""
) -> Iterator[Replay]:
    """Serve the viewer and ``wacz`` on 127.0.0.1 and open the replay of ``url`` in a fresh context."""
    site = {
        "/index.html": embedding_page(url, ts),
        "/replay/ui.js": (viewer["ui.js"], "text/javascript"),
        "/replay/sw.js": (viewer["sw.js"], "text/javascript"),
        f"/case/{WACZ}": (wacz, "application/zip"),
    }
    with SiteServer({"127.0.0.1": site}) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            responses: list[Response] = []
            page.on("response", lambda response: responses.append(response))
            page.goto(server.url("127.0.0.1", "/index.html"))
            inner = page.frame_locator("replay-web-page iframe")
            yield Replay(
                page, inner, inner.frame_locator(f"iframe[name={REPLAY_FRAME}]"), responses
            )
        finally:
            context.close()


def ts14(iso: str) -> str:
    """A pages.jsonl time as the 14-digit timestamp of replay URLs."""
    return re.sub(r"\D", "", iso)[:14]


@pytest.mark.parametrize("which", ["crawl", "recapture"])
def test_each_capture_of_the_page_replays_with_its_image_from_the_archive(
    which: str, exported: Exported, viewer: dict[str, bytes], browser: Browser
) -> None:
    url, media_url = exported.alert["page_url"], exported.alert["media_url"]
    entries = sorted(exported.pages, key=lambda e: e["ts"])
    assert [e["url"] for e in entries] == [url, url], "the WACZ lists the crawl and the recapture"
    # The crawl ran on the machine's clock, the export on a fixed one: tell them by their WARCs.
    index = exported.wacz["indexes/index.cdx"].decode().splitlines()
    warc = {"crawl": "crawl.warc.gz", "recapture": "capture.warc.gz"}[which]
    ts = next(
        line.split(" ")[1] for line in index if f'"{warc}"' in line and f'"url": "{url}"' in line
    )
    assert ts in {ts14(e["ts"]) for e in entries}
    title = title_of(exported.page_html)

    with replayed(browser, viewer, exported.package[WACZ], url, ts) as replay:
        expect(replay.frame.locator("h1")).to_have_text(title, timeout=WAIT_MS)
        frame = replay.archived_frame()
        # The viewer redirects to the exact capture it found: this one, of this URL.
        assert frame.url.endswith(f"/{ts}mp_/{url}"), frame.url
        assert frame.title() == title
        size = frame.wait_for_function(
            """url => {
                const img = [...document.images].find(i => i.src === url);
                return img && img.complete && img.naturalWidth > 0
                    && [img.naturalWidth, img.naturalHeight];
            }""",
            arg=media_url,
        ).json_value()
        assert tuple(size) == Image.open(io.BytesIO(exported.media)).size

        served = [r for r in replay.responses if r.url.endswith(f"/{ts}im_/{media_url}")]
        assert served, [r.url for r in replay.responses]
        assert served[0].status == 200 and served[0].from_service_worker
        assert served[0].body() == exported.media == exported.package["found/media.jpg"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        replay.page.screenshot(path=str(ARTIFACTS / f"replay-{which}.png"))


def test_the_viewer_lists_every_page_of_pages_jsonl(
    exported: Exported, viewer: dict[str, bytes], browser: Browser
) -> None:
    url, title = exported.alert["page_url"], title_of(exported.page_html)
    with replayed(browser, viewer, exported.package[WACZ]) as replay:
        expect(replay.viewer.get_by_text(f"{len(exported.pages)} pages")).to_be_visible(
            timeout=WAIT_MS
        )
        # Each entry of the viewer's list shows a page's title and URL (as keyword-mark titles).
        entries = replay.viewer.locator("wr-page-entry")
        expect(entries).to_have_count(len(exported.pages))
        for shown in (url, title):
            expect(entries.locator(f'keyword-mark[title="{shown}"]')).to_have_count(
                len(exported.pages)
            )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        replay.page.screenshot(path=str(ARTIFACTS / "replay-pages.png"))


def without_url(warc: bytes, url: str) -> bytes:
    """``warc`` with every record about ``url`` left out (request, response, metadata)."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    for record in ArchiveIterator(io.BytesIO(warc)):
        if record.rec_headers.get_header("WARC-Target-URI") != url:
            writer.write_record(record)
    return out.getvalue()


def damaged(data: bytes) -> bytes:
    """``data`` with one byte in every 97 inverted: gzip members that no longer inflate."""
    out = bytearray(data)
    for i in range(0, len(out), 97):
        out[i] ^= 0xFF
    return bytes(out)


@pytest.mark.parametrize("fault", ["page left out", "WARC bytes damaged"])
def test_a_wacz_without_a_readable_page_shows_the_viewers_not_found_page(
    fault: str, exported: Exported, viewer: dict[str, bytes], browser: Browser
) -> None:
    url = exported.alert["page_url"]
    warcs = {n: d for n, d in exported.wacz.items() if n.startswith("archive/")}
    if fault == "page left out":
        # Rebuilding with the export's own writer changes nothing but what is left out.
        assert exported.rebuilt(warcs) == exported.package[WACZ]
        bad = exported.rebuilt({n: without_url(d, url) for n, d in warcs.items()})
        index = unzip(bad)["indexes/index.cdx"].decode()
        assert f'"url": "{url}"' not in index and exported.alert["media_url"] in index
    else:
        files = {**exported.wacz, **{n: damaged(d) for n, d in warcs.items()}}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            for name, data in files.items():
                z.writestr(name, data)
        bad = buffer.getvalue()
    ts = ts14(exported.pages[0]["ts"])

    with replayed(browser, viewer, bad, url, ts) as replay:
        expect(replay.frame.locator("body")).to_contain_text(NOT_FOUND, timeout=WAIT_MS)
        assert replay.archived_frame().title() != title_of(exported.page_html)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        replay.page.screenshot(path=str(ARTIFACTS / f"replay-{fault.replace(' ', '-')}.png"))

"""Topic names of the bus: stable strings, shared by the embedded bus and Kafka.

Changing a name is a migration: consumers' committed offsets and the compacted
works log live under these names. Each topic carries exactly one schema module
in :mod:`tanba.core.schemas`, named in the comment.
"""

# MediaDiscovered (tanba.core.schemas.media), key = site host so one site's media stay ordered.
MEDIA = "tanba.media"
# FingerprintComputed (tanba.core.schemas.fingerprints), key = site host.
FINGERPRINTS = "tanba.fingerprints"
# WorkRegistered / WorkRemoved (tanba.core.schemas.works), log-compacted, key = work id.
WORKS = "tanba.works"
# MediaQuarantined (tanba.core.schemas.quarantine), key = sha256 of the file.
QUARANTINE = "tanba.quarantine"
# MatchSuppressed (tanba.core.schemas.suppressions), key = work id; the audit trail of alerts not raised.
SUPPRESSIONS = "tanba.suppressions"
# CrawlFinished (tanba.core.schemas.crawls), key = crawl id; per-target statistics of each crawl.
CRAWLS = "tanba.crawls"
# DeadLetter (tanba.core.schemas.deadletter), key = the failed message's topic.
DEAD_LETTER = "tanba.deadletter"
# CustodyRecorded (tanba.core.schemas.custody), key = alert id: every action on a case.
CUSTODY = "tanba.custody"
# OrganisationPolicySet (tanba.core.schemas.organisations), log-compacted, key = organisation.
ORGANISATIONS = "tanba.organisations"
# TargetRecorded (tanba.core.schemas.targets), log-compacted, key = target id: the crawl targets.
TARGETS = "tanba.targets"
# CrawlJobRequested (tanba.core.schemas.crawl_jobs), key = the target's site (registrable domain),
# so one site's jobs land on one partition and one crawler crawls a site at a time.
CRAWL_JOBS = "tanba.crawl-jobs"
# ShardAnswered (tanba.core.schemas.gather), key = the fingerprint event's position: what each
# matcher shard found about one print, for the gather stage to decide once it has every shard's.
MATCH_ANSWERS = "tanba.match-answers"
# GatherPending (tanba.core.schemas.gather), key = as MATCH_ANSWERS: the gather stage's
# answers so far per print, and which prints it decided; compacted, and kept as long as the
# answers (Kafka's retention), so it does not grow with every print ever judged.
MATCH_PENDING = "tanba.match-pending"

ALL = (
    MEDIA,
    FINGERPRINTS,
    WORKS,
    ORGANISATIONS,
    TARGETS,
    CRAWL_JOBS,
    MATCH_ANSWERS,
    MATCH_PENDING,
    QUARANTINE,
    SUPPRESSIONS,
    CRAWLS,
    CUSTODY,
    DEAD_LETTER,
)
# Topics Kafka keeps compacted (latest value per key) instead of by time.
COMPACTED = (WORKS, ORGANISATIONS, TARGETS)

# Consumer groups of the stages.
GROUP_FINGERPRINT = "tanba-fingerprint"
GROUP_MATCHER = "tanba-matcher"
GROUP_GATHER = "tanba-gather"
GROUP_CRAWLER = "tanba-crawler"

"""What evidence export needs from the environment: the signing key (a secret) and the settings.

``TANBA_SIGNING_KEY``  the installation's Ed25519 private key, PEM; when unset, a key is
                       generated once under ``home/keys/`` (mode 0600) with a warning.
                       A secret: read from the environment only, never part of Settings,
                       so ``tanba settings`` and logs can never show it.
``TANBA_TSA_URL``, ``TANBA_EVIDENCE_TEMPLATES``, ``TANBA_EVIDENCE_TRUST_STORE`` and
``TANBA_EVIDENCE_TIMEZONE`` are ordinary settings, documented in :mod:`tanba.core.settings`;
they are read through it here, and the time zone is checked here (an unknown zone is a
:class:`~tanba.core.exceptions.SettingsError` that names the variable).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tanba.core.exceptions import InputError, SettingsError
from tanba.core.settings import Settings
from tanba.evidence.dates import zone

SIGNING_KEY_ENV = "TANBA_SIGNING_KEY"
TSA_URL_ENV = "TANBA_TSA_URL"
TEMPLATES_ENV = "TANBA_EVIDENCE_TEMPLATES"
TRUST_STORE_ENV = "TANBA_EVIDENCE_TRUST_STORE"
TIMEZONE_ENV = "TANBA_EVIDENCE_TIMEZONE"
DEFAULT_TIMEZONE = "UTC"


@dataclass(frozen=True)
class EvidenceConfig:
    """What the environment says about signing, time-stamping, templates, trust and time zone."""

    signing_key_pem: str = ""
    tsa_url: str = ""
    templates_dir: Path | None = None
    trust_store: Path | None = None  # None: home/keys/trusted/ (see tanba.evidence.trust)
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EvidenceConfig:
        env = os.environ if environ is None else environ
        # Some secret stores flatten newlines to a literal backslash-n; PEM needs real ones.
        pem = env.get(SIGNING_KEY_ENV, "").replace("\\n", "\n").strip()
        settings = Settings.from_env(env)
        templates = settings.evidence_templates.strip()
        trust = settings.evidence_trust_store.strip()
        timezone = settings.evidence_timezone.strip() or DEFAULT_TIMEZONE
        try:
            zone(timezone)
        except InputError as exc:
            raise SettingsError(f"{TIMEZONE_ENV}: {exc}") from None
        return cls(
            signing_key_pem=pem,
            tsa_url=settings.tsa_url.strip(),
            templates_dir=Path(templates) if templates else None,
            trust_store=Path(trust) if trust else None,
            timezone=timezone,
        )

"""Stable jurisdiction codes: ISO 3166-1 alpha-2 codes of the CIS states Tanba monitors.

Contract: each constant is the ISO 3166-1 alpha-2 code of one state and is the key of its
entry in ``jurisdictions.yaml``. These codes are stable names: they are stored in alerts,
suppressions and reports, so changing one is a data migration, not a rename. ``XX`` is
the ISO user-assigned code Tanba uses for "no jurisdiction could be assigned" (a host
under ``.com``, an IP address); it is never a real state.

Why constants rather than an enum: the codes travel as plain strings through events,
YAML and the database, and comparing ``alert.jurisdiction == KZ`` must just work.

Membership status (member, associate) is data and lives in the YAML file, which agencies
may correct; ``MEMBER_CODES`` and ``ASSOCIATE_CODES`` record the status as of writing so
that code and tests can name the groups without loading the file.
"""

from __future__ import annotations

from typing import Final

AM: Final = "AM"  # Armenia
AZ: Final = "AZ"  # Azerbaijan
BY: Final = "BY"  # Belarus
KZ: Final = "KZ"  # Kazakhstan
KG: Final = "KG"  # Kyrgyzstan
MD: Final = "MD"  # Moldova
RU: Final = "RU"  # Russia
TJ: Final = "TJ"  # Tajikistan
UZ: Final = "UZ"  # Uzbekistan
TM: Final = "TM"  # Turkmenistan (associate state since 2005)

UNASSIGNED: Final = "XX"

#: Full member states of the CIS.
MEMBER_CODES: Final[tuple[str, ...]] = (AM, AZ, BY, KZ, KG, MD, RU, TJ, UZ)
#: Associate states of the CIS.
ASSOCIATE_CODES: Final[tuple[str, ...]] = (TM,)
#: Every state (member or associate) that has its own entry.
STATE_CODES: Final[tuple[str, ...]] = MEMBER_CODES + ASSOCIATE_CODES
#: Every code the data file must contain, the unassigned pseudo-jurisdiction included.
ALL_CODES: Final[tuple[str, ...]] = (*STATE_CODES, UNASSIGNED)

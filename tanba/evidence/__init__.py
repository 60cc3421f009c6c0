"""Evidence packages: recapture a case, keep its chain of custody, export and verify a signed archive.

Modules, one concept each: :mod:`.capture` (archiving fetch, TLS chain,
screenshot), :mod:`.custody` (who did what when), :mod:`.wacz` (the web archive
inside a package), :mod:`.matchreport` (fingerprints, scores, overlay),
:mod:`.strings` (the words of documents per language), :mod:`.dates` (times in
the reader's zone), :mod:`.wording` (what documents say, from the package's
facts), :mod:`.report` (the PDF a lawyer reads), :mod:`.notices` (draft letters
from templates), :mod:`.signing` (the installation's Ed25519 key),
:mod:`.trust` (the keys a verifier trusts), :mod:`.timestamp` (RFC 3161),
:mod:`.manifest` (what a package holds), :mod:`.contents` (case files built from
the installation's state), :mod:`.package` (export), :mod:`.verify` (check a
package) and :mod:`.cli`.
"""

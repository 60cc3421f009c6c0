"""Words of the evidence report in English, Russian and (where translated) Kazakh.

Contract: :func:`text` returns the phrase for ``key`` in ``lang``; a phrase not
yet translated into Kazakh falls back to Russian, then to English, so a report
is always complete. Adding a language is adding a dictionary here.
"""

from __future__ import annotations

LANGUAGES = ("en", "ru", "kk")
DEFAULT_LANGUAGE = "ru"
_FALLBACK = {"kk": ("kk", "ru", "en"), "ru": ("ru", "en"), "en": ("en",)}

_EN = {
    "title": "Evidence report",
    "case": "Case",
    "intro": (
        "This report summarises a copy of a registered work found on a public website. "
        "Every file it mentions is in the same package; the package's manifest lists the "
        "SHA-256 of every file and is signed, so any later change can be detected with "
        "'tanba evidence verify'."
    ),
    "summary": "Summary",
    "work": "Registered work",
    "owner": "Rights holder",
    "work_id": "Work id",
    "page": "Page",
    "media_url": "Media URL",
    "site": "Site",
    "server_ip": "Server IP address",
    "jurisdiction": "Jurisdiction",
    "confidence": "Confidence",
    "first_seen": "First seen",
    "last_seen": "Last seen",
    "status": "Status",
    "score": "Similarity score",
    "cross_border": "Cross-border case: rights holder in",
    "capture": "Recapture of the page",
    "captured_at": "Captured at (UTC)",
    "captured_by": "Captured by",
    "no_capture": "No recapture is available for this case.",
    "http": "HTTP exchanges",
    "tls": "TLS certificate",
    "tls_none": "none (plain http)",
    "verified": "verified",
    "not_verified": "not verified",
    "media_same": "The media URL still serves the same file as when the alert was raised.",
    "media_changed": "The media URL now serves a different file, or none.",
    "problems": "Problems noted",
    "screenshot": "Screenshot",
    "no_screenshot": "No screenshot",
    "match": "How the copy matches the work",
    "algorithm": "Algorithm",
    "distance": "Hamming distance (of 64 bits)",
    "variant": "Matched variant",
    "region": "Region of the work the copy shows",
    "ber": "Bit error rate",
    "work_offset": "Offset in the work",
    "copy_offset": "Offset in the copy",
    "duration": "Aligned duration",
    "signals": "Why this jurisdiction",
    "signal": "Signal",
    "value": "Points to",
    "weight": "Weight",
    "detail": "Detail",
    "authority": "Competent authority",
    "unknown": "unknown",
    "custody": "Status history and chain of custody",
    "when": "When (UTC)",
    "who": "Who",
    "what": "What",
    "files": "Files in this package",
    "file": "File",
    "reference_withheld": (
        "At the rights holder's request the reference file is not included: only its "
        "SHA-256 and a thumbnail."
    ),
    "signing": "Signature",
    "signing_text": (
        "The manifest of this package is signed with Ed25519 key {fingerprint}. "
        "Check the package with: tanba evidence verify PACKAGE.zip"
    ),
    "timestamp_text": "An RFC 3161 timestamp token from {tsa} is attached to the manifest.",
    "exported": "Exported at (UTC)",
    "exported_by": "Exported by",
    "page_of": "page",
}

_RU = {
    "title": "Отчёт о доказательствах",
    "case": "Дело",
    "intro": (
        "Отчёт описывает копию зарегистрированного произведения, найденную на общедоступном "
        "сайте. Все упомянутые файлы находятся в том же пакете; манифест пакета содержит "
        "SHA-256 каждого файла и подписан, поэтому любое позднейшее изменение выявляется "
        "командой 'tanba evidence verify'."
    ),
    "summary": "Сводка",
    "work": "Зарегистрированное произведение",
    "owner": "Правообладатель",
    "work_id": "Идентификатор произведения",
    "page": "Страница",
    "media_url": "Адрес файла",
    "site": "Сайт",
    "server_ip": "IP-адрес сервера",
    "jurisdiction": "Юрисдикция",
    "confidence": "Уверенность",
    "first_seen": "Впервые обнаружено",
    "last_seen": "Последний раз обнаружено",
    "status": "Статус",
    "score": "Степень сходства",
    "cross_border": "Трансграничное дело: правообладатель в",
    "capture": "Повторная фиксация страницы",
    "captured_at": "Время фиксации (UTC)",
    "captured_by": "Кем зафиксировано",
    "no_capture": "Повторной фиксации по этому делу нет.",
    "http": "HTTP-обмены",
    "tls": "Сертификат TLS",
    "tls_none": "нет (http без шифрования)",
    "verified": "проверен",
    "not_verified": "не проверен",
    "media_same": "По адресу файла по-прежнему доступен тот же файл, что и при обнаружении.",
    "media_changed": "По адресу файла теперь другой файл или файла нет.",
    "problems": "Замечания",
    "screenshot": "Снимок экрана",
    "no_screenshot": "Снимка экрана нет",
    "match": "Как копия совпадает с произведением",
    "algorithm": "Алгоритм",
    "distance": "Расстояние Хэмминга (из 64 бит)",
    "variant": "Совпавший вариант",
    "region": "Часть произведения, показанная в копии",
    "ber": "Доля ошибочных битов",
    "work_offset": "Смещение в произведении",
    "copy_offset": "Смещение в копии",
    "duration": "Длительность совпадения",
    "signals": "Почему эта юрисдикция",
    "signal": "Признак",
    "value": "Указывает на",
    "weight": "Вес",
    "detail": "Подробности",
    "authority": "Уполномоченный орган",
    "unknown": "неизвестно",
    "custody": "История статусов и цепочка хранения",
    "when": "Когда (UTC)",
    "who": "Кто",
    "what": "Что",
    "files": "Файлы пакета",
    "file": "Файл",
    "reference_withheld": (
        "По просьбе правообладателя эталонный файл не включён: только его SHA-256 и миниатюра."
    ),
    "signing": "Подпись",
    "signing_text": (
        "Манифест пакета подписан ключом Ed25519 {fingerprint}. "
        "Проверка пакета: tanba evidence verify ПАКЕТ.zip"
    ),
    "timestamp_text": "К манифесту приложена метка времени RFC 3161 от {tsa}.",
    "exported": "Время выгрузки (UTC)",
    "exported_by": "Кем выгружено",
    "page_of": "стр.",
}

# Kazakh: the headings and the fixed sentences; technical rows fall back to Russian.
_KK = {
    "title": "Дәлелдемелер туралы есеп",
    "case": "Іс",
    "intro": (
        "Бұл есеп жалпыға қолжетімді сайттан табылған тіркелген туындының көшірмесін "
        "сипаттайды. Аталған барлық файлдар осы пакетте; пакет манифесінде әр файлдың "
        "SHA-256 мәні бар және ол қол қойылған, сондықтан кез келген кейінгі өзгеріс "
        "'tanba evidence verify' командасымен анықталады."
    ),
    "summary": "Қысқаша мәлімет",
    "work": "Тіркелген туынды",
    "owner": "Құқық иеленуші",
    "page": "Бет",
    "site": "Сайт",
    "server_ip": "Сервердің IP мекенжайы",
    "jurisdiction": "Юрисдикция",
    "first_seen": "Алғаш анықталды",
    "last_seen": "Соңғы рет анықталды",
    "status": "Мәртебе",
    "score": "Ұқсастық дәрежесі",
    "capture": "Бетті қайта тіркеу",
    "captured_at": "Тіркелген уақыты (UTC)",
    "screenshot": "Экран суреті",
    "match": "Көшірменің туындымен сәйкестігі",
    "signals": "Неліктен осы юрисдикция",
    "authority": "Уәкілетті орган",
    "custody": "Мәртебелер тарихы және сақтау тізбегі",
    "when": "Қашан (UTC)",
    "who": "Кім",
    "what": "Не",
    "files": "Пакеттегі файлдар",
    "file": "Файл",
    "signing": "Қолтаңба",
    "signing_text": (
        "Пакет манифесіне Ed25519 {fingerprint} кілтімен қол қойылған. "
        "Пакетті тексеру: tanba evidence verify ПАКЕТ.zip"
    ),
    "page_of": "бет",
}

_TABLES = {"en": _EN, "ru": _RU, "kk": _KK}


def text(lang: str, key: str, **values: str) -> str:
    """The phrase ``key`` in ``lang`` (with fallbacks), formatted with ``values``."""
    for candidate in _FALLBACK.get(lang, ("en",)):
        phrase = _TABLES[candidate].get(key)
        if phrase is not None:
            return phrase.format(**values) if values else phrase
    raise KeyError(f"no phrase {key!r} in the evidence report strings")

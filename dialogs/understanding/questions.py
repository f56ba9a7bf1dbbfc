"""Reading a customer's question: is it one, what kind, and about what.

The kind decides which answer of a topic fits ("where is …" gets the click path,
"is it safe …" the risk); the topic is one of the knowledge's ``answers``
(``security_defaults``, ``smtp_settings``, ``basic_auth_change`` …). Both are
read by patterns over folded text in English, Latvian and Russian: question
words are a closed class, and a model trained on a few hundred questions would
only learn them less reliably.
"""

from __future__ import annotations

import re

W = r"[\w-]*"

# A message that opens like a question: a question word, or a verb before its subject.
_OPENERS = re.compile(
    r"^(?:(?:and|so|ok|okay|hi|hello|un|а|и|ну|labi|ok,)\s*,?\s*)?"
    r"(?:what|what'?s|whats|when|when'?s|why|how|how'?s|where|where'?s|which|who|whose|"
    r"(?:can|could|do|does|did|is|are|was|were|should|will|would|may|might|must|shall|has|have|"
    r"need|isn'?t|isnt|aren'?t|won'?t|wont|doesn'?t|don'?t)\s+(?:i|we|you|it|they|this|that|these|"
    r"those|there|my|our|the|a|an|microsoft|cloudex|smtp|oauth|mfa|app|tms|security|shared|"
    r"business|e1|e3|e5|enabling|disabling|turning|switching|ticking)|"
    r"kas|ko|kad|kapec|kadel|kur|kurs|kura|kuru|kuras|cik(?! (?:es |man )?zin)|vai|"
    r"ar ko|par ko|no ka|uz kurieni|until when|till when|since when|how come|"
    r"что|чем|чего|когда|зачем|почему|как|где|какой|какая|какое|какие|каких|сколько|"
    r"с чем|в чем|о чем|для чего|"
    r"кто|можно|можно ли|нужна ли|нужно ли|нужен ли|надо ли|будет ли|есть ли|а если|"
    r"ли|через сколько|до какого|в каких)(?![\w-])|"
    r"^(?:kads|kada|kadi|kadas|kadu) (?:ir|bija|ir tie|ir tas)\b|^ka [a-z]+t\b")
_ASKS = re.compile(r"\?\s*$")
_PRONOUN_OPENER = re.compile(
    r"^(?:what|when|why|how|where|which|who|kas|ko|kad|kapec|kur|cik|vai|что|когда|зачем|почему|"
    r"как|где|какой|какая|какие|сколько|можно|(?:can|could|do|does|did|will|would|should|may) "
    r"(?:i|we|you|it|they)\b)")
_WEAK_OPENERS = re.compile(r"^(?:kads|kada|kadi|kadas|kadu|ka|ko)(?![\w-])")
# Unsure answers that are worded as questions ("how do I check?") answer the question asked.
UNSURE_QUESTION = re.compile(
    r"^(?:(?:and|so|but|un|nu|а|и|ну)\W+)?(?:(?:not sure|no idea|dunno|nezinu|не знаю|не уверен\w*"
    r")\W+)?"
    r"(?:how (?:do|can|could) (?:i|we) (?:check|find out|tell|see)(?: (?:that|it|this))?|"
    r"how to check|where do i (?:see|find|look)(?: (?:that|it|this))?|how can i tell|"
    r"ka (?:lai )?(?:to )?(?:parbaudit|uzzinat|zinu)|kur (?:to )?(?:var )?(?:redzet|atrast)|"
    r"kas tas (?:ir)?|what'?s that|what is (?:that|this|it)|"
    r"как (?:это )?(?:проверить|узнать)|где (?:это )?(?:посмотреть|найти)|а что это|что это)\W*$")

_UNSURE_OPENING = re.compile(
    r"^(?:(?:and|so|but|un|nu|а|и|ну)\W+)?(?:how (?:do|can|could) (?:i|we) (?:check|find out|tell|"
    r"know)|how would i know|"
    r"ka (?:lai )?(?:es )?(?:to )?(?:parbaudit|uzzinat|zinu|zinat)|kur (?:to )?(?:var )?(?:redzet|"
    r"atrast)|"
    r"как (?:это )?(?:проверить|узнать)|откуда (?:мне )?знать)\b")
# Kinds, most specific first.
_KIND_PATTERNS: tuple[tuple[str, str], ...] = (
    ("how_long", r"how long|how soon|how much time|how many (?:minutes|hours|days)|"
                 r"when (?:will|does|should|can) (?:it|this|that|the change|the fix|sending|mail)"
                 r" (?:start|begin|take|work)|(?:have|need) to wait|wait before|take effect|propag"
                 r"at|"
                 r"cik (?:ilgi|ilga laika|ilgs|minut|stund|drizi)|kad (?:tas )?(?:saks|stasies)|"
                 r"jagaida|jāpagaida|japagaida|stajas speka|izplatas|"
                 r"сколько (?:ждать|времени|минут|часов)|через сколько|когда (?:это )?(?:начнет|за"
                 r"работает|"
                 r"вступ)|надо ли подождать|подождать перед|вступят в силу|применяется"),
    ("is_safe", r"\bsafe|secure|security risk|\brisk|dangerous|less secure|open us up|attack|"
                r"\bdrosi\b(?! vien)|\bdross\b|bistam|neaizsargat|mazak drosib|"
                r"безопасн(?:о|ы|а|ен|ым)\b|(?<!без)опасн|риск|уязвим|менее защищ"),
    ("when", r"\bwhen\b|deadline|until when|december|2026|2027|next year|end of (?:the )?year|"
             r"stop working|killing|\bkad\b|lidz kuram|decembr|nakamgad|parstas stradat|"
             r"когда|до какого|декабр|в следующем году|перестанет работать"),
    ("where", r"\bwhere\b|how (?:do|can|could) (?:i|we) (?:check|see|find|tell|look)|how to check|"
              r"\bkur\b|ka (?:es )?(?:varu )?(?:parbaudit|paskatities|redzet|atrast)|"
              r"\bгде\b|как (?:мне )?(?:проверить|посмотреть|найти|узнать)"),
    ("how_to", r"how (?:do|can|could|should) (?:i|we|you) (?:enable|turn|set|create|configure|disa"
               r"ble|"
               r"switch|allow|make|get|add|fix)|how to (?:enable|turn|set|create|configure|disable"
               r")|"
               r"\bka (?:lai )?(?:ieslegt|izslegt|iestatit|izveidot|konfiguret|atlaut|uzstadit)|"
               r"как (?:мне )?(?:включить|отключить|выключить|настроить|создать|разрешить)"),
    ("support", r"support|\bcan (?:the tms|cloudex|it|we) (?:use|log|sign|work|do)|can we use|"
                r"does it work with|instead\b|atbalst|vai (?:tms |cloudex )?var (?:lietot|pieslegt"
                r"ies|"
                r"izmantot)|vai stradas ar|поддерж|умеет|можно (?:ли )?(?:войти|использовать|"
                r"подключ)|будет работать|может ли"),
)
_KINDS = tuple((kind, re.compile(pattern)) for kind, pattern in _KIND_PATTERNS)

# Topics of the knowledge's "answers", most specific first.
_TOPIC_PATTERNS: tuple[tuple[str, str], ...] = (
    ("basic_auth_change", r"(?:basic auth\w*|smtp (?:auth|password)\w*|password)\W.*(?:turn\w* off"
                          r"|switch"
                          r"\w* off|disabl|killing|deadline|2026|december|stop|after|until|\bend|"
                          r"remov|retir|go away|phase\w* out)|"
                          r"(?:turn\w* off|switch\w* off|disabl\w*|killing|deadline|end of|\bend"
                          r"\w*|stop|"
                          r"remov\w*|retir\w*|phas\w* out|izbeig\w*|atcel\w*|прекра\w*|отмен\w*|"
                          r"убира\w*|уберут) .*"
                          r"(?:basic auth\w*|basic authentication|smtp auth|smtp password)|"
                          r"december 2026|end of 2026|2026|decembr|izsleg\w* basic|atsleg\w* smtp|"
                          r"декабр|отключ\w* (?:basic|smtp)|basic auth\w*.*(?:до какого|когда|откл"
                          r"юч)|"
                          r"(?:kad|lidz kuram).*basic|basic.*(?:izsleg|lidz)|parole stradas|"
                          r"пароль будет работать|will (?:the|our) password still work|"
                          r"(?:stop|parstas|перестанет) (?:working|stradat|работать)|next year"),
    ("smtp_settings", r"smtp (?:server|host|settings|hosts|serveris|сервер)|\bport|\bports|\bпорт|"
                      r"\bserver\b|serveris|сервер|ssl|tls|starttls|encryption|sifresan|шифрован|"
                      r"user ?name|username|lietotajvard|логин это|имя пользователя|smtp\.office36"
                      r"5|"
                      r"settings should i enter|iestatijumi jaieraksta|настройки (?:вписать|smtp)|"
                      r"smtp iestatijum|outlook smtp|настройки smtp"),
    ("cloudex_needs", r"what (?:do|does) (?:you|cloudex|the tms|tms) need|what info|need from (?:u"
                      r"s|me|our)|"
                      r"should (?:our|my) it|prepare|kas jums .*vajag|kas (?:tms|cloudex) vajag|"
                      r"vaja(?:g|dz)\w* no|kas (?:jums|tms|cloudex)\b.*vaja(?:g|dz)|jasagatavo|inf"
                      r"ormacij|что (?:вам|tms|cloudex) .*нужно|"
                      r"нужно tms|подготовить|информаци"),
    ("app_password", r"app[- ]?(?:password|pass|pwd)|lietotnes parol|programmas parol|app parol|"
                     r"парол\w* приложени|апп? парол"),
    ("oauth", r"oauth|modern auth|modern\w* autentif|современн\w* аутент|microsoft (?:kont|login|s"
              r"ign)|"
              r"sign in with microsoft|ar microsoft|через (?:вход |учетк\w* |учетн\w* запис\w* )?m"
              r"icrosoft|"
              r"log in with|instead of a password|nevis paroli|а не по паролю|xoauth"),
    ("shared_mailbox", r"shared|kopig|koplieto|общ\w* (?:почтов\w* )?ящик|общим ящиком|общий"),
    ("license", r"licen|лиценз|business basic|\be[135]\b|exchange online"),
    ("mfa", r"\bmfa\b|2fa|multi ?factor|two[- ]factor|daudzfaktor|divfaktor|многофактор|двухфакто"
            r"р"),
    ("security_defaults", r"security defaults?|drosibas noklusejum|параметр\w* безопасност|"
                          r"безопасности по умолчанию"),
    ("conditional_access", r"conditional access|\bca\b|nosacijumpiekluv|условн\w* доступ"),
    ("smtp_auth", r"smtp[- ]?auth|authenticated smtp|smtp autentif|smtp аутентиф|manage email app"
                  r"s"),
)
_TOPICS = tuple((topic, re.compile(pattern)) for topic, pattern in _TOPIC_PATTERNS)


def is_question(folded: str) -> bool:
    """True when a folded message asks something (with or without a question mark)."""
    words = folded.split()
    if not words:
        return False
    if len(words) == 1 and words[0].strip("?") in {"what", "why", "ko", "kas", "что", "почему",
                                                    "kapec", "how"}:
        return False  # "what?" says the last message was not understood
    return _OPENERS.search(folded) is not None or _ASKS.search(folded) is not None


def opens_as_question(folded: str) -> bool:
    """True when a folded message opens the way a question does ("can we …", "kā …", "где …").

    Words that also start statements ("kāda cita kļūda", "kā" without its accent) count
    only with a question mark.
    """
    if not is_question(folded):
        return False
    if _OPENERS.search(folded) is not None:
        # "isnt there", "has a licence": two or three words may be an answer said backwards.
        return _ASKS.search(folded) is not None or len(folded.split()) > 3 or \
            _PRONOUN_OPENER.search(folded) is not None
    return _WEAK_OPENERS.search(folded) is not None and _ASKS.search(folded) is not None


def is_unsure_question(folded: str) -> bool:
    """True for "how do I check?", "kā pārbaudīt?", "как проверить?": not knowing, as a question.

    Also when more follows ("how do I find out which mailbox it uses?"), as long as it
    names no topic of its own: "where do I find security defaults?" asks about them.
    """
    said = folded.strip()
    if UNSURE_QUESTION.search(said) is not None:
        return True
    return _UNSURE_OPENING.search(said) is not None and not topic_of(said)


def kind_of(folded: str) -> str:
    """The kind of a question: what_is (the default), where, how_to, how_long, is_safe, when,
    support."""
    for kind, pattern in _KINDS:
        if pattern.search(folded):
            return kind
    return "what_is"


def topic_of(folded: str) -> str:
    """The knowledge topic a question is about, or "" when none is named."""
    for topic, pattern in _TOPICS:
        if pattern.search(folded):
            return topic
    return ""

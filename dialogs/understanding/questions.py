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
                 r"сколько (?:ждать|времени|минут|часов)|через сколько|через какое время|"
                 r"как (?:долго|скоро)|"
                 r"сколько .{0,20}(?:ждать|подождать)|за какое время|pec cik ilga|cik atri|"
                 r"(?:how long|kad|когда) .{0,40}(?:after|pec|после) (?:enabl|turn|switch|ieslegs|"
                 r"izslegs|включ|отключ)|когда (?:это )?(?:начнет|за"
                 r"работает|"
                 r"вступ)|надо ли подождать|подождать перед|вступят в силу|применяется"),
    ("is_safe", r"\bsafe|secure|security risk|\brisk|dangerous|less secure|open us up|attack|"
                r"\bdrosi\b(?! vien)|\bdross\b|bistam|neaizsargat|mazak drosib|"
                r"безопасн(?:о|ы|а|ен|ым)\b|(?<!без)опасн|риск|уязвим|менее защищ"),
    ("when", r"\bwhen\b|deadline|until when|december|2026|2027|next year|end of (?:the )?year|"
             r"stop working|killing|\bkad\b|lidz kuram|decembr|nakamgad|parstas stradat|"
             r"когда|до какого|декабр|в следующем году|перестанет работать"),
    ("where", r"\bwhere\b|how (?:do|can|could) (?:i|we) (?:check|see|find|tell|look)|how to check|"
              r"\bkur\b|ka (?:(?:es|man|mums|lai|to|tos|so|varu|var|varam|mes) )*(?:parbaudit|pa"
              r"skatities|redzet|atrast|uzzinat)|"
              r"\bгде\b|как (?:(?:мне|нам|это|его|ее|можно|я могу|мы можем) )*(?:проверить|посм"
              r"отреть|найти|узнать|увидеть)"),
    ("how_to", r"how (?:do|can|could|should) (?:i|we|you) (?:enable|turn|set|create|configure|disa"
               r"ble|"
               r"switch|allow|make|get|add|fix)|how to (?:enable|turn|set|create|configure|disable"
               r")|"
               r"\bka (?:(?:lai|man|mums|es|to|tos|so|varu|var|varam|mes) )*(?:ieslegt|izslegt|"
               r"iestat"
               r"it|izveidot|konfiguret|atlaut|uzstadit|\w+t)\b|"
               r"как (?:(?:мне|нам|это|его|ее|их|можно|я могу|мы можем) )*(?:включить|отключить|"
               r"выключить|настроить|создать|разрешить|\w+(?:ить|ать|ять|еть))\b|"
               r"how (?:do|can|could|should) (?:i|we|you) \w+ (?:it|that|this|them)\b"),
    ("support", r"support|(?:can|could) (?:we|i|(?:our |the )?tms|cloudex|it|you) (?:send|use|"
                r"sign|log|"
                r"work|connect)\w* (?:from|with|via|through|as|using)\b|"
                r"is it possible to (?:send|use)|"
                r"vai (?:var|varam|varesim|ir iespejams|drikst) (?:sutit|lietot|izmantot|pieslegt)|"
                r"можно (?:ли )?(?:отправлять|слать|отправить)|получится ли|\bcan (?:the tms|"
                r"cloudex|it|we) (?:use|log|sign|work|do)|can we use|"
                r"does it work with|instead\b|atbalst|vai (?:tms |cloudex )?var (?:lietot|pieslegt"
                r"ies|"
                r"izmantot)|vai stradas ar|поддерж|умеет|можно (?:ли )?(?:войти|использовать|"
                r"подключ)|будет работать|может ли"),
)
_KINDS = tuple((kind, re.compile(pattern)) for kind, pattern in _KIND_PATTERNS)

# Topics of the knowledge's "answers", most specific first.
_TOPIC_PATTERNS: tuple[tuple[str, str], ...] = (
    ("basic_auth_change", r"basic (?:auth\w*|autentif\w*|аутентиф\w*)\W.*(?:go\w* away|remov|retir|"
                          r"deprecat|sunset|izsleg|izsled|atsleg|atsled|atcel|beig|pazud|vairs|"
                          r"отключ|отмен|"
                          r"убира|уберут|прекра|перестан|больше не)|"
                          r"(?:basic auth\w*|smtp (?:auth|password)\w*|password)\W.*(?:turn\w* off"
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
    ("smtp_settings", r"smtp (?:server|host|settings|hosts|serveris|сервер)|\bports?\b|"
                      r"\bport[su]\b|"
                      r"\bпорт(?:ы|а|ов|у)?\b|"
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
    ("conditional_access", r"conditional access|\bca\b|nosacijumpiekluv|условн\w* доступ|"
                           r"\bpolic(?:y|ies)\b|\bpolitik\w*|\bполитик\w*"),
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


# The topic a question's own setting has, for a question asked about "it" while it is on the screen.
CONTEXT_TOPICS = {
    "mfa": "mfa", "security_defaults": "security_defaults", "conditional_access":
    "conditional_access", "license": "license", "org_smtp_auth": "smtp_auth",
    "mailbox_smtp_auth": "smtp_auth",
}
# Words that point back at what is on the screen ("enable it", "kur to redzēt", "где это").
_DEICTIC = re.compile(
    r"\b(?:it|that|this|there|those|these|setting|settings|option|box|checkbox|one)\b|"
    r"\b(?:to|tas|ta|tos|tas|so|sis|si|tur|seit|iestatijum\w*|opcij\w*|keksi\w*)\b|"
    r"(?<![\w-])(?:это|эта|этот|эту|этой|этого|его|ее|их|там|тут|здесь|настройк\w*|опци\w*|"
    r"галочк\w*)(?![\w-])")
# Small talk: the weather, how one is, whether the bot is a bot; nothing the product answers.
_SMALL_TALK = re.compile(
    r"\bweather\b|how (?:are|r) (?:you|u)\b|how'?s it going|how are things|how is your day|"
    r"are you (?:a |an )?(?:bot|robot|ai|machine|real|human)|\b(?:football|soccer|hockey|lunch|"
    r"weekend|holiday|vacation|joke)\b|your (?:name|favou?rite)|where are you (?:from|based)|"
    r"is it (?:cold|hot|warm|raining|snowing|sunny)\b|ka (?:tevi|jus) sauc|"
    r"\blaik(?:s|apstakl\w*) (?:ara|sodien|tur)\b|\blaikapstakl\w*|ka (?:tev|"
    r"jums) (?:\w+ )?(?:iet|klajas)|"
    r"vai tu esi (?:robots|bots|cilveks|maksligais)|\b(?:futbol\w*|hokej\w*|pusdien\w*|nedelas nog"
    r"al\w*|atvalinajum\w*|joks|anekdot\w*)|"
    r"(?<![\w-])(?:погод\w*|как (?:у (?:вас|тебя) )?(?:ваши |твои )?дела|как (?:ты|вы|поживаете)|"
    r"как (?:тебя|вас) зовут|ты (?:робот|бот|"
    r"человек)|вы (?:робот|бот)|футбол\w*|хоккей\w*|обед\w*|выходны\w*|отпуск\w*|анекдот\w*|шутк"
    r"\w*)(?![\w-])")


def is_small_talk(folded: str) -> bool:
    """True for small talk ("how's the weather?", "kā tev iet?", "ты робот?")."""
    return _SMALL_TALK.search(folded) is not None


def points_back(folded: str) -> bool:
    """True when a question points at what is on the screen ("how do I enable it?")."""
    return _DEICTIC.search(folded) is not None

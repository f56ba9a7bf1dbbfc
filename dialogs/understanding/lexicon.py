"""The words that carry facts, in English, Latvian and Russian (folded: see ``text.fold``).

Each entry is one *term*: a regular expression over folded text and what finding
it means. :mod:`dialogs.understanding.facts` scans a message for every term at
once (one compiled alternation, entries earlier in :data:`TERMS` win where two
start at the same place, so multi-word phrases come before their parts) and then
works out which state belongs to which topic and what is negated.

Kinds of term:

- ``topic``: names a fact ("MFA", "drošības noklusējumi", "условный доступ").
  ``value`` set means the words also say its value ("authenticator" is MFA on,
  "Business Premium" is a licence with Exchange Online).
- ``value``: one value of a fact with several (mailbox type, sign-in, test send).
- ``state``: how a thing is (``on``, ``off``, ``tick``, ``untick``, ``have``,
  ``missing``, ``true``, ``false``); a negator flips it.
- ``yes`` / ``no``: a bare answer; a ``no`` before a topic also negates it.
- ``neg``: a negator (not, never, without; ne, nav, bez; не, нет, без).
- ``unsure``, ``hedge`` ("I think", "laikam", "вроде"), ``also`` ("too", "arī",
  "тоже"), ``contrast`` ("but", "bet", "но": a clause boundary), ``qualifier``
  (tenant or mailbox, for SMTP AUTH), ``cue`` (words that make a weak value count:
  a mailbox noun, "the TMS signs in with", "test").

``weak`` terms are common words ("shared", "password", "works"): they count only
where the context or a cue makes them about the fact.

Latvian "no" means "from": :func:`dialogs.understanding.facts` drops the English
"no" terms from Latvian messages.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One lexicon term: what it is, which fact and value it says, and its pattern."""

    kind: str
    pattern: str
    fact: str | None = None
    value: str | None = None
    weak: bool = False
    lang: str | None = None  # only in messages of this language (None: any)
    needs: str | None = None  # only where the typed words hold this letter ("jā", not "ja" = if)
    asked_only: bool = False  # weak, and counts only as the answer to its own question


def _many(kind: str, patterns: tuple[str, ...], fact: str | None = None, value: str | None = None,
          *, weak: bool = False, lang: str | None = None, needs: str | None = None,
          asked_only: bool = False) -> list[Entry]:
    return [Entry(kind, p, fact, value, weak or asked_only, lang, needs, asked_only)
            for p in patterns]


# Stems that end a word in any inflection: "ieslegt" + W matches ieslēgts/ieslēgta/ieslēgti.
W = r"[\w-]*"

# ---- terms whose words would otherwise be read as parts ----------------------------------
_PHRASES: list[Entry] = [
    # The org checkbox is called "Turn off SMTP AUTH protocol for your organization": its
    # "turn off" is a name, not a state, and ticking it turns SMTP AUTH off.
    *_many("topic", (
        r"[\"']?turn off smtp auth(?: protocol)?(?: for (?:your|the) organi[sz]ation)?[\"']?"
        r"(?: box| checkbox| option| setting)?",
        r"(?:the )?turn[- ]off (?:box|checkbox|option)",
    ), "org_smtp_auth"),
    *_many("topic", (r"smtpclientauthenticationdisabled",), "smtp_disabled_param"),
    # Conditional Access said by what it does.
    *_many("topic", (
        r"block" + W + r" (?:the )?legacy(?: auth" + W + r")?",
        r"legacy auth" + W + r" (?:is |are )?block" + W,
        r"polic(?:y|ies)(?: that| which)? (?:requir|enforc)" + W
        + r" (?:mfa|2fa|multi[- ]?factor" + W + r")(?: (?:for|on) (?:all|every)" + W
        + r"(?: users| apps| applications| cloud apps)?)?",
        r"requir" + W + r" (?:mfa|2fa) (?:for all(?: users| apps| cloud apps)?|with (?:a )?ca poli"
                        r"c" + W + ")",
        r"mfa for all (?:apps|users|cloud apps)",
        r"blok" + W + r" legacy(?: auth" + W + r"| autentifikacij" + W + r")?",
        r"legacy(?: auth" + W + r"| autentifikacij" + W + r")? (?:ir )?blok" + W,
        r"politik" + W + r",? (?:kas|kura) (?:prasa|pieprasa|blok" + W
        + r")(?: (?:mfa|2fa|legacy" + W
        + r"))?(?: visiem| visam" + W + r")?",
        r"(?:prasa|pieprasa)" + W + r" mfa vis" + W + r"(?: lietotn" + W + r")?",
        r"блокир" + W + r" (?:legacy|устаревш" + W + r")(?: аутентификац" + W + r"| auth" + W
        + r")?",
        r"(?:legacy|устаревш" + W + r")(?: аутентификац" + W + r"| auth" + W
        + r")? (?:за)?блокир" + W,
        r"политик" + W + r",? (?:котор" + W + r"|что) (?:требует|блокирует)" + W
        + r"(?: (?:mfa|2fa|legacy|устаревш" + W + r"))?(?: для всех" + W + r")?",
        r"требу" + W + r" mfa для всех(?: приложений| пользователей)?",
    ), "conditional_access", "yes"),
    # "Requires MFA": a Conditional Access policy when that is asked, else MFA on.
    *_many("topic", (r"requir" + W + r" (?:mfa|2fa|multi[- ]?factor" + W + r")",
                     r"(?:pie)?prasa mfa", r"требу" + W + r" mfa"), "requires_mfa", "yes"),
    # "The account is excluded" (from the policy): no Conditional Access for it.
    *_many("topic", (r"(?:the )?(?:account|user|mailbox) (?:is )?excluded", r"excluded",
                     r"исключен" + W, r"izslegts no politik" + W), "conditional_access", "no",
           asked_only=True),
    # MFA said by how it feels.
    *_many("topic", (
        r"(?:a |the )?(?:code|codes|pin) (?:on|to|via) (?:the |my |our |a |his |her )?(?:phone|mob"
        r"ile)",
        r"(?:sms|text) codes?", r"(?:ms |microsoft )?authenticator(?: app)?",
        r"kod" + W + r" uz (?:telefon" + W + r"|mobil" + W + r")", r"sms kod" + W,
        r"код" + W + r" (?:на|в) (?:телефон" + W + r"|смс|мобильн" + W + r")",
        r"смс[- ]?код" + W, r"код по смс",
        r"(?:asks?|asking|requires?|wants?) (?:for )?(?:a |the )?(?:code|pin)", r"code every time",
        r"prasa kod" + W, r"pieprasa kod" + W, r"(?:проси|требу)" + W + r" код" + W,
    ), "mfa", "yes"),
    # The sign-in method.
    *_many("value", (
        r"app(?:[- ]specific)?[- ](?:password|passwords|pwd|pass)", r"apppassword",
        r"application[- ]specific password", r"application password",
        r"lietotnes parol" + W, r"programmas parol" + W, r"lietojumprogramm" + W + r" parol" + W,
        r"app parol" + W, r"парол" + W + r" (?:для )?приложени" + W, r"апп? парол" + W,
        r"app парол" + W,
    ), "auth_method", "app_password"),
    *_many("value", (
        r"x?oauth ?2?(?:\.0)?", r"modern auth" + W, r"modern" + W + r" autentifikacij" + W,
        r"современн" + W + r" аутентификац" + W,
        r"microsoft (?:sign[- ]?in|login|log[- ]?in|pieslegs" + W + r")",
        r"sign" + W + r" in with microsoft(?: 365)?", r"(?:log(?:ged)? in|login) with microsoft",
        r"ar microsoft(?: 365)? (?:kont" + W + r"|pieslegs" + W + r"|login" + W + r")",
        r"piesle(?:g|dz)" + W + r" ar microsoft",
        r"через (?:вход |учетк" + W + r" |учетн" + W + r" запис" + W
        + r" |аккаунт" + W + r" )?microsoft", r"вход" + W + r" (?:через )?microsoft",
        r"token" + W, r"токен" + W, r"app registration", r"client secret", r"graph api",
    ), "auth_method", "oauth"),
    *_many("value", (r"basic",), "auth_method", "basic", asked_only=True),
    *_many("value", (r"graph", r"ms graph"), "auth_method", "oauth", asked_only=True),
    *_many("value", (r"ar microsoft(?: 365)?", r"с microsoft", r"via microsoft", r"with microsoft",
                     r"microsoft kont" + W, r"(?:ms|microsoft) (?:account|аккаунт" + W + r")"),
           "auth_method", "oauth", asked_only=True),
    *_many("value", (
        r"basic auth" + W, r"basic authentication",
        r"(?:user ?name|login|username|lietotajvard" + W + r"|логин) (?:and|&|\+|un|и) "
        r"(?:password|pwd|parol" + W + r"|парол" + W + r")",
        r"(?:normal|regular|plain|account|mailbox|user|our|the|usual|same) (?:password|pwd)",
        r"(?:parast" + W + r"|konta|pastkastes) parol" + W,
        r"(?:обычн" + W + r"|простой) парол" + W,
        r"парол" + W + r" (?:от )?(?:ящика|учетк" + W + r")",
    ), "auth_method", "basic"),
    # "Just a password": at the MFA question, no second step; elsewhere, the sign-in.
    *_many("value", (
        r"(?:just|only) (?:a |the |with (?:a |the )?)?(?:password|pwd)(?: only)?", r"password only",
        r"tikai (?:ar )?parol" + W, r"tikai parole", r"только (?:по )?парол" + W,
    ), "password_only", "basic", weak=True),
    # Alone, "password" may describe how a person signs in (no MFA), not how the TMS does.
    *_many("value", (r"password", r"passwd", r"pwd", r"parol" + W, r"по паролю", r"парол" + W),
           "auth_method", "basic", weak=True),
    # Licences by product name: with Exchange Online, and without.
    *_many("topic", (
        r"(?:microsoft |ms |office |o|m)?(?:365 )?business (?:basic|standard|premium|std|prem)",
        r"(?:microsoft|ms|office|o|m) ?365 (?:basic|standard|premium|bp|e[135]|a[135]|f3)",
        r"m365 ?bp", r"(?:office |microsoft |ms |o365 |m365 )?(?:365 )?e[135]",
        r"f3", r"exchange online ?\(?(?:plan )?(?:1|2|p1|p2)\)?", r"exchange (?:plan )?[12]",
        r"(?:exchange online )?kiosk", r"eop1", r"бизнес (?:базов" + W + r"|basic|стандарт"
        + W + r"|премиум)", r"business (?:премиум|стандарт)",
    ), "license", "yes"),
    # "Licensed": a licence had (and "unlicensed", "не лицензирован": none).
    *_many("topic", (r"licen[cs]ed", r"licencet" + W, r"лицензирован" + W, r"licenzirovan" + W),
           "license", "yes"),
    *_many("topic", (
        r"(?:microsoft |m365 |ms |office )?(?:365 )?f1", r"(?:microsoft |m365 |ms |office |o)?(?:3"
                                                         r"65 )?"
        r"apps for (?:business|enterprise)", r"exchange foundation", r"teams essentials",
        r"unlicen[cs]ed", r"nelicencet" + W, r"нелицензир" + W,
    ), "license", "no"),
    # "The normal mailbox password", "parastā lietotāja parole": whose password, not a type.
    *_many("value", (
        r"(?:(?:normal|regular|usual|ordinary|plain|same) )?(?:(?:user|mailbox|account)(?:'s)? )+"
        r"(?:password|pwd|pass)",
        r"(?:parast" + W + r" )?(?:lietotaj" + W + r"|pastkast" + W + r"|kont" + W + r") parol"
        + W, r"parast" + W + r" parol" + W,
        r"(?:обычн" + W + r" )?парол" + W + r" (?:от )?(?:обычн" + W + r" )?(?:ящик" + W
        + r"|учетк" + W + r"|пользовател" + W + r")",
    ), "auth_method", "basic"),
    # "Per-user MFA", "для каждого пользователя": whom a setting is for, not a mailbox type.
    *_many("filler", (r"per[- ]user", r"(?:for )?(?:each|every|all|individual) users?",
                      r"(?:katram|visiem|katra) lietotaj" + W,
                      r"(?:для )?(?:каждого|всех|каждому) пользовател" + W)),
    # Mailbox types: said with a mailbox noun they are strong; alone, only on the question.
    *_many("value", (
        r"shared (?:mailbox|inbox|account|box|one)", r"sharedmailbox",
        r"kopig" + W + r" pastkast" + W,
        r"koplieto" + W + r" pastkast" + W, r"общ" + W + r" (?:почтов" + W + r" )?ящик" + W,
        r"shared ящик" + W, r"ящик общ" + W,
    ), "mailbox_type", "shared"),
    *_many("value", (
        r"user mailbox", r"usermailbox", r"(?:normal|regular|personal|ordinary|licensed|real|prope"
                                         r"r)"
        r" (?:user )?(?:mailbox|account|user)",
        r"lietotaja (?:pastkast" + W + r"|kont" + W + r")", r"parast" + W + r" (?:lietotaj" + W
        + r"|pastkast" + W + r"|kont" + W + r")", r"personig" + W + r" kont" + W,
        r"ist" + W + r" lietotaj" + W,
        r"пользовательск" + W + r" ящик" + W, r"обычн" + W + r" (?:ящик" + W + r"|пользовател" + W
        + r"|учетк" + W + r"|учетн" + W + r" запис" + W + r")", r"личн" + W + r" (?:ящик" + W
        + r"|учетк" + W + r")", r"ящик пользовател" + W, r"учетн" + W + r" запис" + W
        + r" пользовател" + W, r"настоящ" + W + r" пользовател" + W,
    ), "mailbox_type", "user"),
    *_many("value", (
        r"room mailbox", r"roommailbox", r"meeting room", r"conference room",
        r"telpas pastkast" + W, r"sapulcu telp" + W, r"ящик" + W + r" переговорн" + W,
        r"переговорн" + W, r"ящик" + W + r" переговорк" + W, r"переговорк" + W,
        r"resource mailbox", r"resursu pastkast" + W, r"ресурсн" + W + r" ящик" + W,
        r"ящик" + W + r" (?:для )?(?:бронирован" + W + r"|комнат" + W + r"|зал" + W + r")",
        r"(?:booking|reservation) (?:mailbox|calendar)", r"(?:telpu|telpas|sapulcu) rezervacij" + W,
    ), "mailbox_type", "room"),
    *_many("value", (r"equipment mailbox", r"aprikojuma pastkast" + W, r"ящик" + W + r" оборудован"
                                                                                     r"и" + W),
           "mailbox_type", "equipment"),
    # Alone, a type word only answers the type question (or stands by a mailbox noun).
    *_many("value", (r"shared", r"kopig" + W, r"koplieto" + W, r"общ(?:ий|ая|его|ем|им)"),
           "mailbox_type", "shared", weak=True),
    *_many("value", (r"user", r"normal(?: one)?", r"regular", r"personal", r"lietotaj" + W,
                     r"parast" + W, r"пользовател" + W, r"обычн" + W, r"личн" + W),
           "mailbox_type", "user", weak=True),
    *_many("value", (r"room", r"telp" + W, r"переговорн" + W), "mailbox_type", "room", weak=True),
    *_many("value", (r"a person", r"employee", r"darbinieks", r"сотрудник" + W), "mailbox_type",
           "user", asked_only=True),
    *_many("value", (r"(?:info|common|general) mailbox", r"info@"), "mailbox_type", "shared",
           weak=True),
    *_many("value", (r"equipmentmailbox", r"device mailbox"), "mailbox_type", "equipment"),
    *_many("value", (r"team", r"komanda", r"команда"), "mailbox_type", "group", asked_only=True),
    *_many("value", (r"equipment", r"aprikojum" + W, r"оборудовани" + W), "mailbox_type",
           "equipment", weak=True),
    *_many("value", (r"group", r"grup" + W, r"групп" + W), "mailbox_type", "group", weak=True),
    *_many("value", (
        r"(?:microsoft |m|office |o)?365 group(?: mailbox)?", r"group mailbox", r"groupmailbox",
        r"m365 grup" + W, r"групп" + W + r" (?:m365|microsoft 365|office 365)", r"m365 групп" + W,
    ), "mailbox_type", "group"),
    # The test send.
    *_many("value", (
        r"(?:it |that |this )?(?:works|worked|working|work)", r"went (?:through|out)",
        r"success" + W,
        r"(?:sending|going out|sent|delivered|arriving|working) again",
        r"atkal (?:tiek )?(?:sut" + W
        + r"|iet|strada" + W + r"|aiziet)", r"снова (?:уход" + W + r"|отправля" + W + r"|работа" + W
        + r"|ушл" + W + r")", r"опять (?:уход" + W + r"|отправля" + W + r"|работа" + W + r")",
        r"sent (?:fine|ok|okay)", r"arrived", r"delivered", r"nostradaj" + W, r"strada", r"stradaj"
                                                                                         r"a",
        r"aizgaj" + W, r"pienac" + W, r"nosutij" + W, r"работа" + W, r"сработал" + W,
        r"уш(?:[её]л|ло|ла|ли)", r"дош(?:[её]л|ло|ла|ли)", r"приш(?:[её]л|ло|ла|ли)",
        r"отправил" + W, r"прош(?:[её]л|ло|ла|ли)",
        r"fixed", r"solved", r"resolved", r"sorted", r"helped", r"did (?:it|the trick)",
        r"sent", r"succeeded", r"fine", r"all good",
        r"(?:all )?good now", r"salabot" + W, r"salaboj" + W, r"atrisinat" + W, r"atrisinaj" + W,
        r"palidzej" + W, r"izdev" + W, r"iet", r"починил" + W, r"решено", r"решил" + W,
        r"помогло", r"заработал" + W, r"получилось", r"в порядке", r"(?:viss )?kartiba",
    ), "test_result", "works", weak=True),
    # A fix that did not help (on a fix's "did it work?"): failed, but not how.
    *_many("value", (
        r"same (?:error|thing|problem|message)", r"still (?:the same|fail" + W + r"|broken|"
        r"(?:not|doesn'?t|does not|isn'?t|can'?t|cannot|won'?t|no) (?!sure|certain|know)\w+|"
        r"getting(?: \w+)?)",
        r"nothing changed", r"no luck", r"broken", r"salu?z" + W, r"сломал" + W, r"сломан" + W,
        r"(?:it )?(?:didn'?t|did not) help", r"(?:that|it) (?:wasn'?t|was not) it",
        r"(?:ta|tas) pat" + W + r"(?: kluda)?", r"joprojam (?:ne" + W + r"|tas pats)",
        r"(?:vel )?(?:aizvien|joprojam) ne\w*(?: \w+)?", r"nekas nemainijas", r"nepalidzej" + W,
        r"nenostradaj" + W, r"nesanac" + W, r"tas nebija tas", r"та же(?: ошибка| проблема)?",
        r"то же самое", r"вс[её] (?:ещ[её]|равно|так же|"
        r"также) не \w+", r"ничего не изменилось", r"не помогло",
        r"не сработал" + W, r"не вышло", r"дело не в этом",
        r"(?:vienalga|tik un ta|joprojam|tapat) (?:ir |bija |ta pati |tas pats )?(?:kluda|ne\w+)",
        r"вс[её] (?:равно|так же|еще) (?:ошибк\w*|та же)", r"still (?:an |the |that )?error",
        r"(?:error|kluda|ошибка) (?:is )?still (?:there|here)",
    ), "test_result", "failed", weak=True),
    *_many("value", (
        r"auth" + W + r" (?:failed|failure|error|unsuccessful)", r"log ?in failed",
        r"sign[- ]?in failed", r"(?:wrong|invalid|incorrect|bad) (?:password|credentials|login)",
        r"(?:can'?t|cannot|could not|couldn'?t) (?:log ?in|sign in|authenticate)", r"535",
        r"5\.7\.139", r"5\.7\.3", r"autentifikacij" + W + r" (?:neizdev" + W + r"|kluda" + W + r")",
        r"autentifikacijas kluda", r"nepareiz" + W + r" parol" + W, r"nevar ielogoties",
        r"ошибк" + W + r" (?:авторизац" + W + r"|аутентификац" + W + r"|входа)",
        r"(?:неверн" + W + r"|неправильн" + W + r") (?:пароль|логин)" + W,
        r"не (?:может|могу|получается) (?:залогиниться|войти|авторизоваться)",
        r"credentials", r"not authenticated",
    ), "test_result", "auth_failed", weak=True),
    *_many("value", (
        r"(?:can'?t|cannot|could not|couldn'?t|unable to) connect", r"connection (?:failed|refused|"
        r"timed out|error|reset)", r"times? ?out", r"timed out", r"(?:tls|ssl|starttls)(?: "
        r"(?:error|problem|handshake" + W + r"))?", r"handshake" + W, r"nevar pieslegties",
        r"savienojum" + W + r" (?:atteikt" + W + r"|neizdev" + W + r"|kluda)", r"taimaut" + W,
        r"tls kluda", r"не (?:может|могу|удается|получается) подключ" + W, r"не подключа" + W,
        r"соединени" + W + r" (?:отклонен" + W + r"|разорван" + W + r")", r"таймаут" + W,
        r"ошибк" + W + r" (?:tls|ssl)", r"no connection", r"certificate" + W, r"sertifikat" + W,
        r"сертификат" + W,
    ), "test_result", "connection_failed", weak=True),
    *_many("value", (
        r"rejected", r"bounc" + W, r"ndr", r"undeliverable", r"send ?as denied", r"sendasdenied",
        r"not delivered", r"noraidit" + W, r"atle(?:c|ca)" + W, r"atnac" + W + r" atpakal",
        r"atgriez" + W, r"отклонен" + W, r"вернул" + W, r"недоставлен" + W,
        r"access denied", r"not allowed to send", r"too large", r"limit exceeded", r"send as",
    ), "test_result", "rejected", weak=True),
    *_many("value", (r"(?:some )?other error", r"(?:a )?different (?:error|message)", r"another er"
                                                                                      r"ror",
                     r"something else", r"unknown error", r"(?:kada )?cita kluda",
                     r"друг" + W + r" ошибк" + W), "test_result", "other_error", weak=True),
    *_many("value", (
        r"(?:not|haven'?t|havent|didn'?t|didnt|have not|did not) (?:yet )?(?:tested|tried|test|try"
        r"|sent "
        r"a test)(?: it| yet| one)*", r"no test yet",
        r"(?:haven'?t|havent|didn'?t|didnt|have not|did not) (?:yet )?(?:send|sent) (?:a |"
        r"any )?(?:te"
        r"st|mail|e-?mail)" + W + r"(?: yet)?",
        r"neesam (?:testej" + W + r"|meginaj" + W + r")", r"nemeginajam", r"neesmu meginaj" + W,
        r"(?:vel )?(?:neesmu|neesam|neesu) (?:to |vel )?(?:\w+ )?(?:no)?(?:testej|meginaj|pamegin"
        r"aj|sutij|nosutij)" + W,
        r"(?:vel )?ne(?:no)?(?:testej|pamegin|megin|nosutij)" + W,
        r"vel neesam" + W, r"ещ[её] не (?:пробовал" + W + r"|тестировал" + W + r")",
        r"не (?:тестировал" + W + r"|пробовал" + W + r")", r"not yet", r"no test(?: yet)?",
        r"still setting (?:it |things )?up", r"vel ne", r"ещ[её] нет",
        r"ещ[её] не (?:пробовал|тестировал|проверял|отправлял|протестировал|попробовал|успел)" + W,
    ), "test_result", "not_tested", weak=True),
    # "The option is not there": the mailbox's Authenticated SMTP is missing.
    *_many("state", (
        r"(?:it'?s |it is )?not there", r"isn'?t there", r"(?:don'?t|do not|can'?t|cannot) see "
        r"(?:it|that|the option|that option|authenticated smtp)(?: at all| in the list)?",
        r"(?:there is )?no such option", r"(?:the )?option (?:doesn'?t|does not|is not|isn'?t) "
        r"(?:show|there|appear|visible)" + W, r"(?:doesn'?t|does not) (?:show|appear)" + W,
        r"gr[ae]yed out", r"not (?:shown|visible|listed)", r"missing", r"hidden",
        r"(?:tadas |tada )?opcij" + W + r" (?:vispar )?(?:nav|neparad" + W + r"|neredzu)",
        r"neredzu" + W, r"tas tur nav", r"ta tur nav", r"pelek" + W,
        r"nav (?:tadas|tada) opcij" + W,
        r"(?:такой |этой )?опци" + W + r" (?:вообще )?(?:нет|не отображается|не видно)",
        r"нет такой опции", r"не вижу" + W, r"его там нет", r"ее там нет", r"сер(?:ый|ая|ое|ые)",
        r"не отображается",
        # "No such …" in any word order: the thing asked about is not there at all.
        r"there'?s no (?:such )?(?:option|setting|checkbox|box|entry|item)",
        r"no such (?:option|setting|checkbox|box|thing|entry|item|field)",
        r"nav (?:(?:tur|seit|vispar|man) )*(?:tadas|tada|tados|tadu|tads) \w+",
        r"(?:tadas|tada|tads) \w+ (?:(?:tur|seit|vispar) )*nav",
        r"нет (?:(?:там|тут|здесь|вообще|у меня) )*(?:такой|такого|такая|таких|такое) ?\w*",
        r"(?:такой|такого|такая|таких|такое) \w+ (?:(?:там|тут|здесь|вообще|у меня|у нас) )*нет",
    ), value="missing"),
]

# ---- "only security defaults", "through SD": security defaults on, said by what does it ----
_THROUGH: list[Entry] = [
    *_many("topic", (
        r"(?:only|just|through|via|from|by) (?:the )?(?:security defaults?|sd)",
        r"(?:tikai|caur|ar) (?:drosibas noklusejum" + W + r"|security defaults?)",
        r"(?:только|через) (?:параметр" + W + r" безопасност" + W + r"(?: по умолчани" + W
        + r")?|security defaults?)",
    ), "security_defaults", "yes"),
]

# ---- facts named by their topic -----------------------------------------------------------
_TOPICS: list[Entry] = [
    *_many("topic", (
        r"mfa", r"2fa", r"2 fa", r"two[- ]?factor" + W, r"2[- ]?factor" + W,
        r"multi[- ]?factor" + W,
        r"second (?:step|factor)", r"2[- ]?step" + W, r"two[- ]?step" + W, r"divfaktor" + W,
        r"divpakap" + W, r"daudzfaktor" + W, r"otr" + W + r" sol" + W, r"мфа", r"2фа",
        r"двухфактор" + W, r"двухэтапн" + W, r"многофактор" + W, r"втор" + W + r" фактор" + W,
    ), "mfa"),
    *_many("topic", (
        r"security defaults?", r"sec\.? ?defaults?", r"secdefaults", r"sd",
        r"drosibas noklusejum" + W, r"noklusejuma drosib" + W,
        r"параметр" + W + r" безопасност" + W + r" по умолчани" + W,
        r"стандартн" + W + r" параметр" + W + r" безопасност" + W,
        r"безопасност" + W + r" по умолчани" + W, r"дефолт" + W + r" безопасност" + W,
    ), "security_defaults"),
    *_many("topic", (
        r"conditional access(?: polic" + W + r")?", r"ca(?: polic" + W + r"| politik" + W
        + r"| политик" + W + r")?", r"nosacijumpiekluv" + W, r"nosacijumu piekluv" + W,
        r"условн" + W + r" доступ" + W, r"политик" + W + r" (?:ca|условного доступа)",
    ), "conditional_access"),
    *_many("topic", (r"polic(?:y|ies)", r"politik" + W, r"политик" + W), "conditional_access",
           weak=True),
    # "No P1" means no Conditional Access (it needs Entra ID P1); having P1 proves nothing.
    *_many("topic", (r"(?:entra |azure ad |aad )?(?:id )?(?:premium )?p1",), "entra_p1"),
    *_many("topic", (
        r"licen[cs]" + W, r"lic", r"licenc" + W, r"лиценз" + W, r"licenzi" + W,
        r"exchange online", r"exchange (?:app|service|mailbox rights)",
    ), "license"),
    *_many("topic", (r"authenticated smtp", r"autentificet" + W + r" smtp",
                     r"аутентифицированн" + W + r" smtp"), "mailbox_smtp_auth"),
    *_many("topic", (
        r"smtp[- ]?auth" + W, r"smtp (?:autentifik" + W + r"|authenti" + W + r"|аутентификац" + W
        + r"|аут" + W + r"|avtorizac" + W + r"|авторизац" + W + r")", r"smtp client auth" + W,
    ), "smtp_auth"),
    *_many("qualifier", (
        r"tenant" + W, r"organi[sz]ation" + W, r"org(?:[- ]?wide)?", r"company[- ]?wide",
        r"(?:the )?whole (?:company|tenant|org" + W + r")", r"organizacij" + W, r"nomniek" + W,
        r"тенант" + W, r"организац" + W, r"(?:всей|всю) компани" + W, r"глобальн" + W,
        r"(?:get-)?transportconfig", r"uznemum" + W + r" limen" + W,
    ), value="org"),
    *_many("qualifier", (
        r"mailbox" + W, r"pastkast" + W, r"ящик" + W, r"(?:get-|set-)?casmailbox",
        r"per[- ]mailbox", r"(?:that|this|the) (?:user|account)", r"kont" + W, r"учетк" + W,
    ), value="mailbox"),
]

# ---- states, answers and the words around them ---------------------------------------------
_STATES: list[Entry] = [
    # "I checked" reports looking, not a ticked box.
    *_many("filler", (r"(?:i|we|i'?ve|we'?ve|i have|we have|just) (?:checked|looked|ticked off)",
                      r"parbaudiju", r"paskatijos", r"проверил" + W, r"посмотрел" + W,
                      r"(?:hang|hold|carry|go|come|move|log|sign|later|right) on", r"not me",
                      r"ne es", r"es ne", r"не я", r"я нет")),
    # "I can't find it": missing where the question is Authenticated SMTP, else not known.
    *_many("state", (r"(?:i )?(?:can'?t|cannot|couldn'?t|could not) find (?:it|that|this|the \w+"
                     r"(?: setting| option)?|that setting|the setting|authenticated smtp)",
                     r"nevar(?:u|am)? (?:to )?atrast" + W, r"не (?:могу|можем|смог" + W + r") найт"
                                                                                          r"и"),
           value="notfound"),
    # Unsure first: "not sure", "no idea", "не знаю" hold a negator of their own.
    *_many("unsure", (
        r"unsure", r"not sure", r"(?:i )?(?:don'?t|do not|dont) know", r"no idea", r"idk", r"dunno",
        r"no clue", r"(?:can'?t|cannot) (?:tell|say)", r"not certain", r"unknown",
        r"never heard" + W,
        r"what'?s that", r"what is that", r"(?:haven'?t|have not|didn'?t|did not) (?:checked|looke"
                                          r"d|check|look)",
        r"(?:i )?(?:don'?t|do not) have access", r"no access",
        r"(?:how|where) (?:do|can|could|should) (?:i|we) (?:check|find|see|look)" + W,
        r"how (?:to|do you) check", r"maybe", r"perhaps", r"possibly", r"who knows",
        r"nezin" + W,
        r"neesmu (?:dross|drosa|parliecinat" + W + r"|skatij" + W + r"|parbaudij" + W + r")",
        r"(?:nav )?ne jausmas", r"grut" + W + r" pateikt", r"ka (?:lai )?(?:es )?(?:to )?(?:parbau"
                                                           r"dit|zinu|"
        r"uzzinat|redzet)", r"kur (?:to )?(?:var )?(?:atrast|redzet|skatit)", r"varbut",
        r"pirmo reizi dzirdu", r"(?:man )?nav piekluves", r"kas tas (?:ir)?", r"what'?s that",
        r"\w+ would know", r"(?:i'?d |i would |we'?d )?(?:need|have) to (?:ask|check with)",
        r"zinatu", r"japrasa", r"знает (?:наш|мой|только)" + W, r"(?:надо|нужно) спросить",
        r"kur (?:tas|ta) ir", r"where (?:it|that) is", r"где (?:это|она|он)\b",
        r"what is (?:that|this|it)",
        r"не знаю", r"не уверен" + W, r"понятия не имею", r"без понятия", r"хз", r"(?:сложно|трудн"
                                                                                 r"о) сказать",
        r"не помню", r"не смотрел" + W, r"не проверял" + W, r"как (?:это )?(?:проверить|узнать|пос"
                                                            r"мотреть)",
        r"где (?:это )?(?:посмотреть|найти)", r"может быть", r"возможно", r"первый раз слышу",
        r"(?:а )?что это", r"(?:у меня )?нет доступа",
        # No access: not knowing, whatever the negation in it would otherwise say.
        r"(?:i |we )?(?:have|has|got) no (?:access|rights|permission)" + W,
        r"(?:i |we )?(?:don'?t|do not|dont) have (?:any )?(?:access|rights|permission)" + W,
        r"(?:man |mums )?nav (?:(?:tur|tam|vel) )?(?:piekluv|pieej|tiesib|atlauj)" + W,
        r"(?:у (?:меня|нас) )?нет (?:(?:туда|к \w+) )?(?:доступ|прав)" + W, r"не имею доступа",
        # Someone else did it: a story, not a state ("no idea, someone else set it up").
        r"(?:someone|somebody|some ?one) else (?:\w+ )?(?:set|configur|did|does|manag|handl|do)"
        + W + r"(?: (?:it|that|this|them))?(?: up)?",
        r"(?:previous|former|old|last|external|other|another) \w+(?: \w+)? (?:set|configur|did|"
        r"manag|install)" + W + r"(?: (?:it|that|this|them))?(?: up)?",
        r"(?:to |tas |ta )?(?:iestatija|konfigureja|uzstadija|darija|izdarija) (?:cit" + W
        + r"|kads cits|kada cita|iepriekse" + W + r"|arej" + W + r"|bijus" + W + r")(?: \w+)?",
        r"(?:cits|cita|kads cits|kada cita) (?:\w+ )?(?:to )?(?:iestatija|konfigureja|uzstadija)",
        r"(?:настраивал" + W + r"|настроил" + W + r"|делал" + W + r"|сделал" + W + r") (?:это |"
        r"его |ее )?(?:друг" + W + r"|кто-то|предыдущ" + W + r"|прошл" + W + r"|бывш" + W
        + r"|внешн" + W + r")(?: \w+)?",
        r"(?:друг" + W + r"|кто-то(?: другой)?|предыдущ" + W + r" \w+|бывш" + W + r" \w+) "
        r"(?:это )?(?:настраивал|настроил|делал|сделал)" + W,
    )),
    # Hedges: the answer is given, with less certainty.
    *_many("hedge", (r"i (?:don'?t|do not) think so", r"nedomaju", r"не думаю", r"not that i know "
                                                                                r"of",
                     r"not as far as i know"), value="no"),
    *_many("hedge", (r"i (?:think|guess|believe|suppose|assume|reckon) so",), value="yes"),
    *_many("hedge", (
        r"i (?:think|guess|believe|belive|suppose|assume|reckon)", r"probably", r"likely",
        r"should be",
        r"afaik", r"as far as i (?:know|can tell)", r"presumably", r"seems", r"apparently",
        r"i'?d say", r"laikam", r"drosi vien", r"domaju", r"liekas", r"skiet", r"vajadzetu" + W,
        r"cik (?:es |man )?(?:zinu|zinams)", r"it ka", r"кажется", r"наверное", r"наверно",
        r"вроде(?: бы)?", r"скорее всего", r"думаю", r"должн" + W + r" быть", r"насколько (?:я )?з"
                                                                              r"наю",
        r"насколько мне известно", r"по[- ]моему", r"вероятно", r"видимо",
    )),
    # "MFA isn't required", "no two-factor": negators, bare answers.
    *_many("state", (
        r"unticked", r"unchecked", r"not (?:ticked|checked)", r"(?:the )?(?:box|checkbox|tick ?box"
                                                              r") "
        r"(?:is )?empty", r"empty (?:box|checkbox)", r"atkeks" + W, r"noneemt" + W + r" keks" + W,
        r"keks" + W + r" (?:ir )?nonemt" + W, r"nonemu keks" + W,
        r"lodzin" + W + r" (?:ir )?tuks" + W,
        r"tuks" + W + r" lodzin" + W, r"neatzimet" + W, r"neiekeks" + W,
        r"чекбокс" + W + r" пуст" + W, r"пуст" + W + r" чекбокс" + W,
        r"гал(?:оч)?к" + W + r" снят" + W,
        r"снят" + W + r" гал(?:оч)?к" + W, r"не отмечен" + W, r"неотмечен" + W,
    ), value="untick"),
    *_many("state", (
        r"ticked", r"checked", r"(?:the )?tick(?: is)? there", r"tick", r"selected",
        r"iekeks" + W, r"atzimet" + W, r"keksis", r"keksit" + W, r"keks" + W, r"galoch" + W,
        r"отмечен" + W, r"гал(?:оч)?к" + W + r"(?: стоит)?", r"стоит гал(?:оч)?к" + W,
        r"поставил" + W
        + r" гал(?:оч)?к" + W,
    ), value="tick"),
    *_many("state", (
        r"turned off", r"switched off", r"disabled?", r"disbled", r"deactivated?", r"inactive",
        r"blocked", r"forbidden", r"off", r"removed", r"nonem" + W, r"снял" + W, r"убрал" + W,
        r"neieslegt" + W, r"neaktiviz" + W, r"neatlaut" + W,
        r"izslegt" + W, r"izsledz" + W, r"atslegt" + W, r"atsledz" + W, r"deaktiv" + W,
        r"neaktiv" + W, r"blokets?", r"blok" + W, r"выключ" + W, r"отключ" + W, r"выкл",
        r"деактив" + W, r"неактив" + W, r"заблокир" + W, r"блокир" + W, r"запрещ" + W,
    ), value="off"),
    *_many("state", (
        r"turned on", r"switched on", r"enabled?", r"enabeled", r"active", r"activated?",
        r"enforced", r"required", r"allowed", r"permitted", r"in place",
        r"on(?=\s*(?:$|[,.;:!?)\n]|for\b|too\b|as\b|also\b|though\b|now\b|again\b|already\b|i\b"
        r"|we\b|but\b|and\b|everywhere\b|there\b|tho\b|,))",
        r"ieslegt" + W, r"iesledz" + W, r"iesledzt" + W, r"aktiv" + W, r"atlaut" + W, r"atlauj" + W,
        r"obligat" + W, r"mandatory",
        r"включ" + W, r"вкл", r"активн" + W, r"активирован" + W, r"разреш" + W, r"обязательн" + W,
        r"vkljuchen" + W, r"vklyuchen" + W,
    ), value="on"),
    *_many("state", (r"true", r"\$true"), value="true"),
    *_many("state", (r"false", r"\$false"), value="false"),
    *_many("state", (
        r"у нас(?: есть)?", r"у него(?: есть)?", r"покупа" + W,
        r"have", r"has", r"got", r"use", r"using", r"uses", r"there (?:is|are)", r"there'?s",
        r"(?:is|are) there",
        r"set up", r"configured", r"exists?", r"ir", r"lietoj" + W, r"izmantoj" + W,
        r"iestatit" + W,
        r"есть", r"имеется", r"используем", r"использу" + W, r"пользуемся", r"настроен" + W,
        r"est'?", r"bought", r"purchased", r"assigned", r"pirk" + W, r"nopirk" + W, r"pieskir" + W,
        r"jalieto", r"jaizmanto", r"iestat" + W, r"купил" + W, r"куплен" + W, r"назначен" + W,
        r"настраива" + W, r"настроил" + W,
    ), value="have"),
    # Latvian says "we don't use" in one word.
    *_many("state", (r"nelieto" + W, r"neizmanto" + W, r"nepirk" + W,
    r"neesam (?:pirk|iestatij)" + W),
           value="nohave"),
    *_many("state", (r"prasit" + W, r"pieprasit" + W), value="on"),
    # "with a licence", "ar licenci", "с лицензией": a topic had; alone they say nothing.
    *_many("with", (r"with", r"ar", r"с", r"со"), value="have"),
    *_many("yes", (
        r"yes", r"yep", r"yeah", r"yup", r"y", r"sure", r"correct", r"affirmative",
        r"of course", r"definitely", r"indeed", r"absolutely", r"certainly",
        r"jaa*(?=\s*(?:$|[,.;:!?\n)-]))", r"jaa+", r"protams",
        r"pareizi", r"tiesa", r"да+", r"ага", r"угу", r"конечно", r"верно", r"точно", r"da",
        r"right(?=\W*$)",
    )),
    # Latvian "ja" is "if" as well as "yes": inside a clause only the typed "jā" is a yes.
    *_many("yes", (r"ja",), needs="ā"),
    *_many("no", (r"no", r"nope", r"nah", r"n"), lang="en"),
    *_many("no", (r"no",), lang="ru"),
    *_many("no", (
        r"none", r"not at all", r"not really", r"neither", r"nor", r"negative", r"nee*", r"nav",
        r"нет",
        r"неа", r"нету", r"net", r"ne",
    )),
    *_many("neg", (
        r"not", r"(?:do|does|did|is|are|was|were|has|have|had|can|could|would|should|wo|ai)n'?t",
        r"cannot", r"never", r"without", r"instead of", r"rather than", r"nekad" + W, r"bez",
        r"nevar", r"nebija", r"nebus", r"netiek", r"nevis", r"а не", r"nobody", r"no ?one",
        r"nothing", r"neviens", r"nekas", r"никто", r"ничего", r"ничто",
        r"не", r"ни", r"без", r"никогда", r"никак" + W, r"nikogda",
    )),
    *_many("also", (r"too", r"as well", r"also", r"ari", r"тоже", r"также", r"tozhe")),
    *_many("contrast", (r"but", r"however", r"though", r"although", r"whereas", r"while", r"bet",
                        r"tacu", r"tomer", r"но", r"а", r"однако", r"зато")),
    *_many("and", (r"and", r"&", r"plus", r"un", r"и", r"gan", r"both")),
    # Cues that make a weak value count.
    *_many("cue", (r"inbox", r"mailbox" + W, r"account", r"pastkast" + W, r"kont" + W, r"ящик" + W,
                   r"учетк" + W, r"акк?аунт" + W), value="mailbox_type"),
    *_many("cue", (
        r"tms", r"cloudex", r"the system", r"sistema", r"система", r"systema",
    ), value="auth_method"),
    *_many("cue", (r"test" + W, r"testa", r"тест" + W), value="test_result"),
]

TERMS: tuple[Entry, ...] = (*_PHRASES, *_THROUGH, *_TOPICS, *_STATES)

# Words the typo repair may change an unknown word into (never into anything else).
FUZZY_TARGETS: frozenset[str] = frozenset({
    "license", "licence", "licensed", "enabled", "disabled", "security", "defaults", "default",
    "conditional", "access", "authenticated", "authentication", "shared", "mailbox", "password",
    "authenticator", "multifactor", "ticked", "unticked", "checked", "unchecked", "organisation",
    "organization", "tenant", "policy", "policies", "turned", "switched", "allowed", "blocked",
    "enforced", "required", "premium", "standard", "business", "exchange", "online",
    "equipment", "activated", "deactivated", "licences", "licenses",
    "ieslegts", "ieslegta", "ieslegti", "izslegts", "izslegta", "izslegti", "atslegts", "atslegti",
    "licenci", "pastkaste", "pastkastei", "parole", "drosibas",
    "noklusejumi", "kopiga", "atzimets", "iekeksets",
    "включена", "включен", "включено", "включены", "выключена", "выключен", "выключено",
    "выключены", "отключена", "отключен", "отключено", "отключены", "лицензия", "лицензии",
    "лицензией", "пароль", "общий", "отмечено", "отмечен", "галочка", "разрешен", "разрешено",
})

"""Words that ask the bot to *do* something: wait, skip, go back, start over, a person, help.

These are closed classes in every language ("wait", "mirklīti", "минутку"; "a
human", "cilvēku", "живого человека"), so they are patterns, not a model. A
pattern is evidence, not a verdict: the reader weighs it against stated facts
and the classifier (``"hold on, MFA is off"`` answers the question).
"""

from __future__ import annotations

import re

from dialogs.understanding.text import compile_guarded

W = r"[\w-]*"
# A plan for later ("I'll test it tomorrow") is no wait. Said as a lookahead, which
# :func:`moves_in` leaves out when no such word is in the message (then it always
# holds): tried at every position, it would scan the rest of the message each time.
_LATER = r"\b(?:later|tomorrow|velak|rit|позже|потом|завтра)\b"
_NOT_LATER = r"(?!.*" + _LATER + r")"

_MOVES: tuple[tuple[str, str], ...] = (
    ("wait", r"\bwait\b|hold on|hang on|\bone sec|\ba sec\b|\bsec\b|just a (?:moment|minute|sec)|"
             r"one moment|\ba (?:minute|moment)\b|give me (?:a|\d+|few|a few) (?:min|minute|moment"
             r"|sec)"
             + W + r"|gimme a|\bbrb\b|let me (?:check|look|see|ask|find)|\bchecking\b|looking (?:i"
                   r"t )?up|"
             r"\bmirkl" + W + r"|\bbrid" + W + r"|\bbrit" + W + r"|\bsekund" + W + r"|"
             r"\bpagaid(?!ij)" + W
             + r"|\buzgaid" + W + r"|\btulit\b|\bparbaudu\b|\bpaskatis" + W + r"|\bpajautas" + W
             + r"|\bmeklej" + W + r"|\bminut(?:iti|ite|i)\b|iedod (?:man )?(?:\d+ )?minut" + W
             + r"|минут" + W + r"|секунд" + W + r"|\bсек\b|"
             r"момент|подожди|погоди|подождите|щас|сейчас (?:посмотрю|проверю|спрошу|гляну)|"
             r"проверяю|ищу|спрошу|"
             # A plan, said in the first person: "I'll test it now", "tūlīt notestēšu",
             # "сейчас протестирую" (a Latvian future in -šu, a Russian perfective in -ю/-у).
             + _NOT_LATER + r"(?:"
             r"\bi'?ll (?:\w+ )?(?:test|try|check|send|look|ask|do|run|find|get back)\b|"
             r"\bi will (?:\w+ )?(?:test|try|check|send|look|ask|do|run|find)\b|"
             r"\b(?:gonna|going to) (?:test|try|check|send|look|ask)\b|"
             r"\blet me (?:test|try|send|run)\b|"
             r"\b(?:tulit|tagad|uzreiz|tulin|tuliт)\b.{0,20}\b\w{3,}su\b|"
             # A word of 3+ letters and -esu/-asu/…, said from its ending (the letters
             # before it a lookbehind): then every match begins with a vowel, and
             # compile_guarded's lookahead turns the other positions away at one
             # character, where "\b\w{3,}" was tried, and backtracked, at every word.
             r"(?<=\w{3})(?:esu|asu|isu|osu|usu)\b(?= (?:un|tad|tulit|tagad|uzreiz)|\W*$)|"
             r"(?:сейчас|щас|ща|сразу|пойду|попробую|давайте я|дайте я) ?(?:\w+ )?\w{3,}[юу]\b"
             r"(?! вам)|\bпопробую\b|\bотпишусь\b)"),
    ("skip", r"\bskip\b|\blater\b|\bmove on\b|next (?:one|question)|ask (?:me )?the next|"
             r"come back to (?:this|it|that)|\bpass\b|\bizlai" + W + r"|\bvelak\b|\btalak\b|"
             r"nakam" + W + r"|\bпропус" + W + r"|\bпотом\b|\bдальше\b|следующ" + W + r"|позже"),
    ("person", r"\bhuman\b|\bperson\b|\bagent\b|\bsomeone\b(?! else \w+ed\b| else (?:set|did|"
               r"made))|"
               r"\bsomebody\b(?! else \w+ed\b| else (?:set|did|made))|\breal (?:person|people)"
               r"\b|"
               r"\bcall me\b|phone call|with me on the phone|pa telefonu|kopa ar mani|\bcolleague"
               r"\b|\boperator\b|\bescalate\b|contact support|"
               r"(?:talk|speak|chat) (?:to|with) (?:a |your |someone|somebody|support)|"
               r"connect me|get me (?:support|an agent|a person|someone)|support team|"
               r"(?<!cits )(?<!cita )\bcilvek" + W + r"|\boperator" + W + r"|"
               r"\bkonsultant" + W + r"|\bpiezvan" + W
               + r"|\bparunat ar\b|\brunat ar\b|ar kadu (?:parunat|runat)|\bkads no\b|atbalst" + W
               + r" (?:dienest" + W + r"|ar)|"
               r"savienojiet|sazinaties ar atbalst" + W + r"|"
               r"(?<!другой )(?<!другая )\bчеловек" + W + r"|оператор" + W
               + r"|консультант" + W + r"|позвон" + W + r"|поговорить с|\bживо" + W + r"|"
               r"техподдержк" + W + r"|связ" + W + r" (?:с|со) (?:поддержк" + W + r"|кем)|"
               r"кто-(?:то|нибудь)|кем-(?:то|нибудь)|по телефону|вместе со мной|"
               r"(?:your|jusu|ваш" + W + r") (?:support|atbalst" + W + r"|поддержк" + W + r")|"
               r"(?:your|an?|one of your) (?:\w+ )?(?:technician|tech|specialist|engineer|admin"
               r"istrator|admin|expert|consultant)s?\b(?! (?:portal|cent(?:er|re)|panel|rights|"
               r"access|account|page|console|role|password))|"
               r"(?<!musu )(?<!mans )(?<!musejais )\b(?:specialist|tehnik|inzenier|eksperts|eksper"
               r"t)" + W + r"|"
               r"(?<!наш )(?<!мой )(?<!наша )(?<!у нас )(?<![\w-])(?:техник|специалист|инженер|"
               r"эксперт)" + W + r"(?<!нет)"),
    ("back", r"^(?:\W*(?:oops|ups|ой|ой,|sorry)\W*)?(?:go )?(?:back|atpakal|назад|previous|"
             r"ieprieksej" + W + r"|предыдущ" + W + r"|к предыдущ" + W + r"|uz ieprieksej" + W
             + r")\b|"
             r"(?:go|ejam|soli|шаг|вернись|вернуться)\W*(?:\w+\W+)?(?:back|atpakal|назад)|"
             r"change my last answer|mainit pedejo atbildi|поменять последний ответ|"
             r"(?:back|return|go|get)\w* (?:back )?to (?:the |my )?(?:previous|last|earlier|prior) "
             r"(?:question|step|one|answer)|"
             r"atgriez\w* (?:pie|uz) (?:ieprieksej|pagajus|pedej)\w*|"
             r"(?:верн\w*|назад|вернуться) (?:к|на) (?:предыдущ|прошл|последн)\w*"),
    ("start_over", r"start (?:over|again|from (?:the )?(?:beginning|scratch))|\brestart|\breset\b|"
                   r"new check|(?:another|different|other) mailbox|from the beginning|"
                   r"\bno (?:jauna|sakuma)\b|atiestat" + W + r"|restartet" + W + r"|cit" + W
                   + r" pastkast" + W + r"|jauna parbaude|заново|сначала|с начала|сброс" + W + r"|"
                   r"перезапуск|друг" + W + r" ящик|новая проверка"),
    ("help", r"^(?:help|help me|palidz" + W + r"|помоги|помогите)\W*$|what can you (?:do|help)|"
             r"what can i (?:type|say|write)|how does (?:this|it) work|what are my options|"
             r"\bko tu (?:proti|vari)\b|ar ko tu vari palidzet|ka tas strada|ko es (?:te |seit )?v"
             r"aru"
             r"|что ты умеешь|с чем ты можешь помочь|как это работает|что я могу|"
             r"^(?:menu|options|komandas|izvelne|iespejas|меню|команды|варианты)\W*$"),
    ("change", r"(?:change|correct|fix|redo|edit|update|amend)\b.{0,30}\b(?:answer|what i said|"
               r"mailbox|address|question)|wrong (?:address|answer|mailbox)|"
               r"(?:mainit|nomainit|nomaini|izlabot|izlabo|labot|parlabot)\b.{0,30}\b(?:atbild" + W
               + r"|pastkast" + W + r"|adres" + W + r")|nepareiz" + W + r" (?:adrese|atbilde)|"
               r"(?:изменить|измени|исправить|исправь|поменять|поменяй|поправить)\b.{0,30}"
               r"(?:ответ" + W + r"|ящик" + W + r"|адрес" + W + r")|неправильн" + W
               + r" (?:адрес|ответ)"),
)
_COMPILED = tuple((move, compile_guarded(pattern)) for move, pattern in _MOVES)
# The same patterns without the lookahead: what they match when no "later" word is there.
_COMPILED_NOW = tuple((move, compile_guarded(pattern.replace(_NOT_LATER, "")))
                      for move, pattern in _MOVES)
_SAYS_LATER = re.compile(_LATER)
_GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|hei|hiya|hallo|howdy|good (?:morning|afternoon|evening|day)|greetings|"
    r"sveik" + W + r"|labdien|labrit|labvakar|cau|cav|sveiciens|привет" + W + r"|здравствуй" + W
    + r"|здрасте|добр" + W + r" (?:утро|день|вечер)|privet|zdravstvuj" + W + r"|dobryj den)\b")


def greets(folded: str) -> bool:
    """True when a folded message opens with a greeting ("hi all", "labdien", "добрый день")."""
    return _GREETING.search(folded) is not None

# Errors said in words: what Microsoft and mail libraries print, not what people say.
_ERROR_WORDS = compile_guarded(
    r"exception|authentication unsuccessful,|smtpclientauthentication is disabled|"
    r"starttls is required|"
    r"wrong version number|ssl routines|remote certificate|first record does not look|"
    r"client not authenticated|unrecognized authentication|not allowed to send as|"
    r"access denied|mailbox unavailable|the server response was|invalid login|"
    r"handshake failed|no compatible authentication|auth extension not supported|"
    r"traffic not accepted|sender thread limit|quota ?exceeded|submission", re.IGNORECASE)


def moves_in(folded: str) -> list[str]:
    """The moves a folded message asks for, in the order of :data:`_MOVES`."""
    compiled = _COMPILED if _SAYS_LATER.search(folded) else _COMPILED_NOW
    return [move for move, pattern in compiled if pattern.search(folded)]


# "Error: …", "error 9.9.9 …", "kļūda 550 …": a message that opens like a log line.
_ERROR_LINE = re.compile(r"(?i)^\W*(?:error|err|kl[uū]da|ошибка|exception|failed)\b\W*(?:\d|:)")


def reads_like_error_text(text: str) -> bool:
    """True for a pasted error message without a known code ("wrong version number", "Error: …")."""
    if _ERROR_LINE.search(text) is not None:
        return True
    return len(text) >= 25 and _ERROR_WORDS.search(text) is not None


# "вот что пишет:", "here's the error:", "lūk, ko rāda:" — and then the error, pasted.
_LEAD_IN = re.compile(
    r"(?i)^[^:\n]{0,60}?(?:says|said|shows|showed|writes|gives|error|message|reply|response|log|"
    r"got|get|пишет|написал\w*|выда[её]т|выдал\w*|показывает|ошибк\w*|сообщени\w*|ответ|пришло|"
    r"raksta|uzrakstij\w*|rada|paradas|paradija|izmet|kl[uū]d\w*|zinojum\w*|pazinojum\w*|atbild\w*)"
    r"[^:\n]{0,20}(?::|\n)\s*(?P<pasted>.+)", re.S)


def pasted_after_lead_in(text: str) -> bool:
    """True for a lead-in and a pasted error after it ("вот что пишет: Authentication …")."""
    match = _LEAD_IN.search(text)
    if match is None:
        return False
    pasted = match.group("pasted")
    if len(pasted) < 15:
        return False
    from dialogs.understanding.text import looks_like_error

    return _ERROR_WORDS.search(pasted) is not None or (
        looks_like_error(pasted) and len(re.findall(r"[A-Za-z]{2,}", pasted)) >= 3)

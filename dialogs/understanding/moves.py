"""Words that ask the bot to *do* something: wait, skip, go back, start over, a person, help.

These are closed classes in every language ("wait", "mirklīti", "минутку"; "a
human", "cilvēku", "живого человека"), so they are patterns, not a model. A
pattern is evidence, not a verdict: the reader weighs it against stated facts
and the classifier (``"hold on, MFA is off"`` answers the question).
"""

from __future__ import annotations

import re

W = r"[\w-]*"

_MOVES: tuple[tuple[str, str], ...] = (
    ("wait", r"\bwait\b|hold on|hang on|\bone sec|\ba sec\b|\bsec\b|just a (?:moment|minute|sec)|"
             r"one moment|\ba (?:minute|moment)\b|give me (?:a|\d+|few|a few) (?:min|minute|moment"
             r"|sec)"
             + W + r"|gimme a|\bbrb\b|let me (?:check|look|see|ask|find)|\bchecking\b|looking (?:i"
                   r"t )?up|"
             r"\bmirkl" + W + r"|\bbrid" + W + r"|\bbrit" + W + r"|\bsekund" + W + r"|\bpagaid" + W
             + r"|\buzgaid" + W + r"|\btulit\b|\bparbaudu\b|\bpaskatis" + W + r"|\bpajautas" + W
             + r"|\bmeklej" + W + r"|\bminut(?:iti|ite|i)\b|iedod (?:man )?(?:\d+ )?minut" + W
             + r"|минут" + W + r"|секунд" + W + r"|\bсек\b|"
             r"момент|подожди|погоди|подождите|щас|сейчас (?:посмотрю|проверю|спрошу|гляну)|"
             r"проверяю|ищу|спрошу"),
    ("skip", r"\bskip\b|\blater\b|\bmove on\b|next (?:one|question)|ask (?:me )?the next|"
             r"come back to (?:this|it|that)|\bpass\b|\bizlai" + W + r"|\bvelak\b|\btalak\b|"
             r"nakam" + W + r"|\bпропус" + W + r"|\bпотом\b|\bдальше\b|следующ" + W + r"|позже"),
    ("person", r"\bhuman\b|\bperson\b|\bagent\b|\bsomeone\b|\bsomebody\b|\breal (?:person|people)"
               r"\b|"
               r"\bcall me\b|phone call|with me on the phone|pa telefonu|kopa ar mani|\bcolleague"
               r"\b|\boperator\b|\bescalate\b|contact support|"
               r"(?:talk|speak|chat) (?:to|with) (?:a |your |someone|somebody|support)|"
               r"connect me|get me (?:support|an agent|a person|someone)|support team|"
               r"\bcilvek" + W + r"|\boperator" + W + r"|\bkonsultant" + W + r"|\bpiezvan" + W
               + r"|\bparunat ar\b|\brunat ar\b|ar kadu (?:parunat|runat)|\bkads no\b|atbalst" + W
               + r" (?:dienest" + W + r"|ar)|"
               r"savienojiet|sazinaties ar atbalst" + W + r"|\bчеловек" + W + r"|оператор" + W
               + r"|консультант" + W + r"|позвон" + W + r"|поговорить с|\bживо" + W + r"|"
               r"техподдержк" + W + r"|связ" + W + r" (?:с|со) (?:поддержк" + W + r"|кем)|"
               r"кто-(?:то|нибудь)|кем-(?:то|нибудь)|по телефону|вместе со мной|"
               r"(?:your|jusu|ваш" + W + r") (?:support|atbalst" + W + r"|поддержк" + W + r")"),
    ("back", r"^(?:\W*(?:oops|ups|ой|ой,|sorry)\W*)?(?:go )?(?:back|atpakal|назад|previous|"
             r"ieprieksej" + W + r"|предыдущ" + W + r"|к предыдущ" + W + r"|uz ieprieksej" + W
             + r")\b|"
             r"(?:go|ejam|soli|шаг|вернись|вернуться)\W*(?:\w+\W+)?(?:back|atpakal|назад)|"
             r"change my last answer|mainit pedejo atbildi|поменять последний ответ"),
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
_COMPILED = tuple((move, re.compile(pattern)) for move, pattern in _MOVES)
_GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|hei|hiya|hallo|howdy|good (?:morning|afternoon|evening|day)|greetings|"
    r"sveik" + W + r"|labdien|labrit|labvakar|cau|cav|sveiciens|привет" + W + r"|здравствуй" + W
    + r"|здрасте|добр" + W + r" (?:утро|день|вечер)|privet|zdravstvuj" + W + r"|dobryj den)\b")


def greets(folded: str) -> bool:
    """True when a folded message opens with a greeting ("hi all", "labdien", "добрый день")."""
    return _GREETING.search(folded) is not None

# Errors said in words: what Microsoft and mail libraries print, not what people say.
_ERROR_WORDS = re.compile(
    r"(?i)exception|authentication unsuccessful,|smtpclientauthentication is disabled|"
    r"starttls is required|"
    r"wrong version number|ssl routines|remote certificate|first record does not look|"
    r"client not authenticated|unrecognized authentication|not allowed to send as|"
    r"access denied|mailbox unavailable|the server response was|invalid login|"
    r"handshake failed|no compatible authentication|auth extension not supported|"
    r"traffic not accepted|sender thread limit|quota ?exceeded|submission")


def moves_in(folded: str) -> list[str]:
    """The moves a folded message asks for, in the order of :data:`_MOVES`."""
    return [move for move, pattern in _COMPILED if pattern.search(folded)]


# "Error: …", "error 9.9.9 …", "kļūda 550 …": a message that opens like a log line.
_ERROR_LINE = re.compile(r"(?i)^\W*(?:error|err|kl[uū]da|ошибка|exception|failed)\b\W*(?:\d|:)")


def reads_like_error_text(text: str) -> bool:
    """True for a pasted error message without a known code ("wrong version number", "Error: …")."""
    if _ERROR_LINE.search(text) is not None:
        return True
    return len(text) >= 25 and _ERROR_WORDS.search(text) is not None

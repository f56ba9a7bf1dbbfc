"""User-facing sentences that are not knowledge: greetings, hints, acknowledgements, card labels.

Kept apart from the logic (errbot's templates idea) so wording can change
without touching the flow. Troubleshooting content lives in knowledge.json.

These English texts are the source of the translations: every upper-case text
(or tuple of texts) here is a message id of the gettext catalogs in
``dialogs/i18n/catalogs/`` (see :mod:`dialogs.i18n`). Say them through the
conversation's translator (``translator(lang)(messages.X)``); after changing
or adding one, run ``make i18n`` and translate the new entries.
"""

from __future__ import annotations

BOT_NAME = "Mail Setup Assistant"

WELCOME_TITLE = "Hi, I'm the CLOUDEX Mail Setup Assistant"
WELCOME_TEXT = "I help get the Microsoft 365 mailbox that CLOUDEX TMS sends from working."
WELCOME_START = "Press **Start**, or paste the error message you see."
WHAT_I_CAN_DO = "What I can do"
WELCOME_ABILITIES = (
    ("Walk you through the mailbox, licence, MFA, security defaults, SMTP AUTH and "
     "Conditional Access settings, one question at a time"),
    "Read an error message you paste and tell you what causes it and how to fix it",
    ("Give you the exact admin-center clicks and PowerShell, and a text to forward to your "
     "IT provider"),
    "Hand you over to a person from CLOUDEX support when you need one",
)
NEVER_PASSWORD = "I never ask for passwords."  # noqa: S105 - a sentence about passwords, not one
NEVER_PASSWORD_LONG = "I will never ask for a password. Please don't paste one here."  # noqa: S105 - a sentence about passwords, not one
BASIC_AUTH_SHORT = "⚠️ From the end of December 2026, password sign-in to SMTP is off by default."

HELP_TITLE = "What you can say"
HELP_COMMANDS = (
    ("start over", "forget the answers and begin again"),
    ("back", "go back to the previous question"),
    ("help", "show this list"),
    ("I don't know", "I show you where to look the answer up, then we can skip it"),
    ("talk to a person", "ask CLOUDEX support to take over"),
    ("paste an error", "paste the error text from CLOUDEX TMS and I will diagnose it"),
    ("latviski · по-русски · in English", "change the language"),
)
HELP_CHECK_TENANT = (
    "check my tenant", "sign in and I read your Microsoft 365 settings live (read-only)")

NOT_UNDERSTOOD = "Sorry, I didn't catch that."
NO_FIX_POWERSHELL = "This fix has no PowerShell line: it is done in the admin center, here:"
NO_FIX_POWERSHELL_STEPS = "This fix has no PowerShell line: its steps are on the card above."
YOU_ARE_WELCOME = "You're welcome."
HOW_LONG = ("⏱ {title}: {wait} Only a test send tells: when you have tried again, tell me "
            "whether it works.")
FACTS_CHANGE_THE_PICTURE = "What you just told me matters here:"
ERROR_WITHOUT_ITS_WORDS = (
    "That can have more than one cause in Microsoft 365, and the full error line tells them "
    "apart: paste the whole line if you have it. The likely causes:"
)
QUESTION_ANSWER_INTRO = "This may answer your question:"
QUESTION_NOT_ANSWERED = (
    "I don't have an answer to that. I know about sending CLOUDEX TMS mail from a "
    "Microsoft 365 mailbox; say \"talk to a person\" to ask CLOUDEX support."
)
MAILBOX_INVALID = (
    "That doesn't look like a mailbox address I can use. Please type the full address, "
    "for example tms@contoso.com."
)
PASSWORD_WARNING = (
    "It looks like that message may contain a password. I did not store it. Please change "  # noqa: S105 - a sentence about passwords, not one
    "that password if it was real, and never share passwords in chat."
)
UNKNOWN_ERROR = (
    "I couldn't match that to a known Microsoft 365 error. If it is an error message, paste "
    "the full text including the code (for example 535 5.7.139 …)."
)
FIX_WORKED = "Great, glad it works now!"
RESOLVED_AGAIN = (
    "This conversation is marked as solved. Say \"start over\" to check another mailbox, "
    "or paste a new error message."
)
FIX_FAILED_NEXT = "Sorry that didn't help. The next most likely cause:"
FIX_FAILED_RESUME = (
    "I've run out of likely causes for that error, so let's check the setup step by step."
)
HANDOFF_REQUESTED = (
    "I've noted that you'd like to talk to a person from CLOUDEX support. They will see "
    "your answers so far, so you won't have to repeat anything."
)
HANDOFF_RESUME_HINT = "Meanwhile you can continue with me: say \"continue\"."
STARTING_OVER = "Let's start over."
NO_EARLIER_QUESTION = "There is no earlier question to go back to from here."
BACK_TO_QUESTIONS = "Back to the setup questions:"
ANSWER_FOLLOW_UP_FIRST = (
    "Please answer this one question first, or say \"I don't know\" and I will start with "
    "the most likely cause."
)
FOLLOW_UP_UNSURE = (
    "No problem. Here is the most likely cause first; if it doesn't help, press "
    "\"No, still failing\" and I will show the next one."
)
PROBLEM_DESCRIBED = (
    "Let's find out why. If CLOUDEX TMS shows an error message (in its mail log, or when you "
    "send a test e-mail), paste it here: it usually names the cause. Otherwise a few questions "
    "about the mailbox will find it."
)
PASTE_THE_ERROR = (
    "If sending still fails, paste the error message from CLOUDEX TMS here and I will tell "
    "you what causes it. Meanwhile, the current question:"
)
SKIPPED = "Skipped. The summary will list it under \"Still to find out\", with where to look."
FIX_PENDING_HINT = (
    "Did the fix above solve it? Say \"it works\" or \"still failing\", paste a new error "
    "message, or say \"back\" to return to the setup questions."
)
SUMMARY_HINT = (
    "The summary above lists what to change. After the changes, say \"it works\", or paste the "
    "error message if sending still fails. Say \"back\" to change an answer or \"start over\"."
)
BASIC_AUTH_CHOSEN = (
    "⚠️ Noted. Password and app-password sign-ins use Basic authentication, which Microsoft "
    "turns off by default at the end of December 2026, so the summary will also show how to "
    "move CLOUDEX TMS to OAuth (Microsoft sign-in)."
)
TRUNCATED = "Your message was very long, so I only read its first 10,000 characters."
STALE_BUTTON = "That button belongs to an earlier question, so here is where we are now:"
GENERIC_FOLLOW_UP = "Which of these fits your setup best?"

# ----- card labels -------------------------------------------------------------
START = "Start"
HELP = "Help"
CHECK_MY_TENANT = "Check my tenant"
LANGUAGE = "Language"
BACK = "Back"
START_OVER = "Start over"
TALK_TO_A_PERSON = "Talk to a person"
CONTINUE = "Continue"
NEXT = "Next"
I_DONT_KNOW = "I don't know"
SKIP_FOR_NOW = "Skip for now"
WHY_SMTP_MISSING = "Why Authenticated SMTP may be missing"
OVERVIEW_TITLE = "Why Authenticated SMTP may not work or not appear"
OVERVIEW_HINT = "Tap a reason to see its solution."
SHOW_THE_FIX = "Show the fix"
START_GUIDED_CHECK = "Start the guided check"
PROGRESS = "Question {number} of {total}"
TYPE_YOUR_ANSWER = "Or type your answer."
MAILBOX_INPUT_LABEL = "Sending mailbox address"
MAILBOX_INPUT_ERROR = "Type the full address"
HOW_TO_FIND_OUT = "How to find out: {label}"
OR_WITH_POWERSHELL = "Or with PowerShell"
TYPE_THE_ADDRESS = "When you know the address, type it here."
PRESS_THE_ANSWER = "Then press the answer, or skip it for now."
FROM_YOUR_ERROR = "From your error: “{evidence}”"
OR_IN_POWERSHELL = "Or in PowerShell:"
POWERSHELL_AS_ADMIN = "PowerShell (as an Exchange or Entra administrator):"
WHY_THIS_HAPPENS = "Why this happens"
HOW_TO_CHECK = "How to check"
OTHER_WAYS = "Other ways"
YES_IT_WORKS = "Yes, it works"
NO_STILL_FAILING = "No, still failing"
TEXT_FOR_IT = "Text for your IT provider"
COPY_FOR_IT = "Copy this and send it to whoever manages your Microsoft 365:"
IN_ENGLISH = "In English:"
FORWARD_HELLO = ("Hello, CLOUDEX TMS sends our e-mail from {mailbox} through Microsoft 365 "
                 "(SMTP AUTH). Please make these changes, in this order:")
FORWARD_THANKS = "Thank you!"
SENDING_MAILBOX_ADDRESS = "sending mailbox address"  # a blank to fill in: ‹sending mailbox address›
THE_MAILBOX = "the mailbox"  # a click-path step's stand-in: ‹the mailbox›
YOUR_DOMAIN = "your domain"
POWERSHELL_FOR = "PowerShell for"
TO_CHECK = "To check"
TO_FIX = "To fix (as an Exchange or Entra administrator)"
NARROW_IT_DOWN = "One question to narrow it down"
SUMMARY_TITLE = "Your mail setup summary"
SENDING_MAILBOX = "Sending mailbox: **{mailbox}**"
LOOKS_FINE = "✅ Looks fine"
WHAT_TO_CHANGE = "🔧 What to change, in this order"
STILL_TO_FIND_OUT = "❔ Still to find out"
MUST_FIX = "Must fix"
RECOMMENDED = "Recommended"
DETAILS = "Details"
NOT_TESTED_YET = ("When the changes are made, send a test e-mail from CLOUDEX TMS; if it fails, "
                  "paste the error here.")
QUESTIONS_STOPPED = ("I stopped the questions here: the other settings do not matter until "
                     "CLOUDEX TMS uses a licensed user mailbox. When you have one, press "
                     "**Start over** and give me its address.")
NOTHING_BLOCKS = ("Nothing in your answers blocks SMTP AUTH. If sending still fails, paste the "
                  "exact error message here.")
AFTER_THE_CHANGES = ("After the changes (and the waiting time), send a test e-mail from CLOUDEX "
                     "TMS. If it still fails, paste the error message here.")
IT_WORKS_NOW = "It works now"
HANDOFF_TITLE = "A person from CLOUDEX support"
CONTINUE_WITH_BOT = "Continue with the bot"
PLAN_OAUTH = "⚠️ One thing to plan: move CLOUDEX TMS to OAuth"
SAY_START_OVER = "Say \"start over\" to check another mailbox."
CHECK_ANOTHER_MAILBOX = "Check another mailbox"
NOTED = "Noted: {facts}."

# ----- the understanding layer (issue 17) -------------------------------------------------------
START_ACK = "Let's get CLOUDEX TMS sending mail from your Microsoft 365 mailbox."
WAIT_ACK = "Take your time. I'll be here: answer the question above when you're ready."
CONFIRM_PROMPT = "Did you mean: {item}?"
CONFIRM_YES = "Yes"
CONFIRM_NO = "No"
CONFIRM_DROPPED = "OK, I have not noted that."
CHANGE_ANSWER = "Let's change that answer."
REASK = "Sorry, I didn't catch that. Did you mean one of these?"
REASK_ERROR = "I have an error message"
REASK_QUESTION = "Ask a question"
PASTE_ERROR_PROMPT = (
    "Paste the error message from CLOUDEX TMS here and I will tell you what causes it.")
ASK_YOUR_QUESTION = "Type your question and I will answer it from what I know about the setup."
SHOW_THE_STEPS = "Show the steps"
LANGUAGE_CHOSEN = "Language: {name}."
TEST_RESULT_HOW = (
    "Sorry it still fails. What did CLOUDEX TMS say? Paste the error message, or choose below.")

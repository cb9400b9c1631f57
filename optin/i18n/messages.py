"""Every translatable string, in one list: the msgids of ``locales/<lang>/LC_MESSAGES/optin.po``.

Pages use the constants (``messages.ENROL``) or the same English text literally
(``{{ _("Enrol") }}`` in a template); both resolve through the catalogs. The i18n tests fail
when a string here lacks a translation in any language, when a ``.po`` file holds a string not
listed here, or when a template uses a string that is not listed (a missing translation blocks
release). ``python -m optin.i18n sync`` adds new strings to the ``.po`` files, untranslated.

Placeholders are ``%(name)s`` (``%(num)d`` for plural counts), as Jinja's newstyle gettext
formats them; a literal percent sign is written ``%%``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Message:
    msgid: str
    plural: str | None = None
    #: For translators: where the string appears and what to keep in mind.
    note: str = ""


ALL: list[Message] = []


def _msg(msgid: str, note: str = "") -> str:
    ALL.append(Message(msgid, note=note))
    return msgid


def _plural(singular: str, plural: str, note: str = "") -> tuple[str, str]:
    ALL.append(Message(singular, plural, note))
    return singular, plural


# --- Errors: one message per error code and per reason code ---------------------------------
# Codes are OptinError.code values (optin/errors.py, problem details' "type"), and the "reason"
# some errors carry (image and face checks in optin/faces, liveness, enrollment). A reason is
# more specific than its error's code, so error_message() prefers it.

_TOO_MANY = _msg("Too many attempts. Please wait a moment and try again.")
_SECURITY_CHECK = _msg("A security check failed. Please contact us.")
_UNAVAILABLE = _msg("The service is not available right now. Please try again later.")

ERROR_MESSAGES: Final[Mapping[str, str]] = {
    "error": _msg("Something went wrong. Please try again."),
    "internal": _msg(
        "Something went wrong on our side and nothing was changed. Please try again.",
        "Unexpected server error (HTTP 500).",
    ),
    "invalid-input": _msg("Some of the information is not valid. Please check it and try again."),
    "bad-request": _msg("We could not process this request. Please check what you entered."),
    "unauthorized": _msg("Please sign in again."),
    "forbidden": _msg("You are not allowed to do this."),
    "not-found": _msg("We could not find this page or item."),
    "conflict": _msg("This no longer matches the current state. Please reload the page."),
    "too-many-requests": _TOO_MANY,
    # Slugs the web layer derives from HTTP status phrases (enrollment_app/problems.py).
    "unprocessable-entity": "Some of the information is not valid. Please check it and try again.",
    "request-entity-too-large": "The file is too large. Please choose a smaller photo.",
    "content-too-large": "The file is too large. Please choose a smaller photo.",
    "consent-required": _msg("Please tick at least one purpose you agree to."),
    "notice-outdated": _msg(
        "The notice has changed since you opened it. Please reload the page and read the "
        "current notice."
    ),
    "unknown-venue": _msg("We do not know this venue. Please check the link or QR code."),
    "invalid-email": _msg("Please enter a valid email address."),
    "already-enrolled": _msg(
        "This face is already enrolled. Please sign in to the portal instead.",
        "Must not reveal anything else about the existing enrolment.",
    ),
    "liveness-failed": _msg(
        "We could not confirm that a live person was in front of the camera. Please try again."
    ),
    "upload-too-large": _msg("The file is too large. Please choose a smaller photo."),
    "invalid-trip-dates": _msg(
        "Please check your trip end date. It must be today or later and within the allowed stay."
    ),
    "image-rejected": _msg("We could not use this image. Please try another photo."),
    "face-quality": _msg("We could not use the face in this photo. Please try again."),
    "mail-failed": _msg("We could not send the email. Please try again later."),
    "crypto-failure": _SECURITY_CHECK,
    # Operator-side errors: the console shows the English ``note``; tourists never meet these,
    # so they reuse the nearest message instead of adding strings to translate.
    "account-locked": _TOO_MANY,
    "audit-chain-broken": _SECURITY_CHECK,
    "backup-damaged": _SECURITY_CHECK,
    "backup-failed": _UNAVAILABLE,
    "service-running": _UNAVAILABLE,
    "key-destroyed": _msg("This data has been deleted and can no longer be read."),
    "configuration": _UNAVAILABLE,
    # A spent or expired device registration link: the administrator issues a new one.
    "device-registration-spent": _SECURITY_CHECK,
    # Payment (optin/services/charges.py, payment_pins.py, optin/payments/provider.py).
    "pin-required": _msg("Please enter your PIN."),
    "wrong-pin": _msg("This PIN is not right. Please try again."),
    "pin-locked": _msg(
        "The PIN is locked after too many wrong tries. Please pay another way, or set a new PIN "
        "in your portal."
    ),
    "payment-not-allowed": _msg(
        "Payment by face is not available for you here. Please pay another way."
    ),
    "charge-in-progress": _msg("This payment is still being processed. Please wait a moment."),
    "idempotency-conflict": _msg(
        "This payment does not match the earlier one with the same reference.",
        "Shown at a till when a retried payment differs from the first.",
    ),
    "payment-provider-unavailable": _msg(
        "The payment service cannot be reached right now. Please try again in a moment."
    ),
    "payment-provider-rejected": _msg(
        "The payment company did not accept this card. Please check the details or use "
        "another card."
    ),
}

_NOT_IN_NOTICE = _msg(
    "The notice does not cover this choice. Please reload the page and read the current notice."
)

REASON_MESSAGES: Final[Mapping[str, str]] = {
    # Reading an image (optin/faces/images.py).
    "unreadable": _msg("We could not read this file. Please try another photo."),
    "not-an-image": _msg("This file is not a photo. Please choose a JPEG, PNG or WebP image."),
    "too-large": _msg("This photo is too large. Please choose a smaller one."),
    # The quality gate (optin/faces/pipeline.py, quality.py).
    "no-face": _msg("We could not find a face. Please face the camera in good light."),
    "several-faces": _msg(
        "We found more than one face. Please make sure you are alone in the picture."
    ),
    "face-too-small": _msg("Your face is too small in the picture. Please move closer."),
    "face-cut-off": _msg(
        "Your face is cut off at the edge. Please keep your whole face in the frame."
    ),
    "face-blurry": _msg("The picture is blurred. Please hold still and try again."),
    # Liveness (optin/faces/liveness.py, optin/services/challenges.py).
    "no-movement": _msg(
        "We did not see your head turn. Please turn your head slowly to the side shown."
    ),
    "wrong-direction": _msg(
        "Your head turned the wrong way. Please turn only to the side shown on the screen."
    ),
    "different-people": _msg(
        "The pictures seem to show different people. Only one person should be in front of "
        "the camera."
    ),
    "too-few-frames": _msg(
        "We did not get enough pictures. Please keep your face in view until the check ends."
    ),
    "not-frontal": _msg("Please look straight at the camera before you turn your head."),
    "tracking-lost": _msg(
        "We lost track of your face. Please hold the phone still and turn your head slowly."
    ),
    "flat-motion": _msg("Please turn your own head, not the phone or a picture."),
    "bad-challenge": _msg("This check is not valid any more. Please start it again."),
    "challenge-expired": _msg("This check took too long. Please start it again."),
    # Consent (optin/services/enrollment.py).
    "no-purpose": ERROR_MESSAGES["consent-required"],
    "no-venue": _msg("Please choose at least one venue."),
    "purpose-not-in-notice": _NOT_IN_NOTICE,
    "venue-not-in-notice": _NOT_IN_NOTICE,
    "unknown-purpose": _NOT_IN_NOTICE,
    # Enrollment form fields (enrollment_app/enrollment/forms.py).
    "notice": ERROR_MESSAGES["notice-outdated"],
    "several-photos": _msg("Please send one photo only."),
    "invalid-email": ERROR_MESSAGES["invalid-email"],
    "invalid-trip-dates": ERROR_MESSAGES["invalid-trip-dates"],
    # Payment: the PIN and the card (optin/services/payment_pins.py, payment_methods.py).
    "pin-format": _msg("A PIN is 4 to 6 digits."),
    "pin-trivial": _msg("This PIN is too easy to guess. Please choose another one."),
    "card-number": _msg(
        "Please enter your card in the card form only. We never take card numbers ourselves."
    ),
    "bad-token": ERROR_MESSAGES["payment-provider-rejected"],
    "no-payment-consent": _msg("You have not agreed to payment by face."),
}

# --- The enrollment flow ---------------------------------------------------------------------

LANGUAGE = _msg("Language", "Label of the language picker.")
CHOOSE_LANGUAGE = _msg("Choose your language")
READ_NOTICE = _msg("Read the notice", "Link to the venue's privacy notice.")
I_AGREE_TO = _msg("I agree to:", "Followed by one checkbox per purpose.")
PURPOSE_ENTRY = _msg(
    "Entry without a ticket", "Purpose; the notices call it the same (optin/notices)."
)
PURPOSE_PAYMENT = _msg("Payment by face", "Purpose; the notices call it the same (optin/notices).")
#: Purpose values (optin.db.enums.Purpose) to the message ids of their names.
PURPOSE_NAMES: Final[Mapping[str, str]] = {"entry": PURPOSE_ENTRY, "payment": PURPOSE_PAYMENT}
NOTHING_PRE_TICKED = _msg("Nothing is pre-ticked. Tick only what you want.")
ALLOW_CAMERA = _msg("Allow the camera", "The browser asks for camera access next.")
LOOK_STRAIGHT = _msg("Look straight at the camera")
TURN_LEFT = _msg("Turn your head slowly to your left", "The person's own left.")
TURN_RIGHT = _msg("Turn your head slowly to your right", "The person's own right.")
ONE_FACE_ONLY = _msg("One face only", "Live hint while the camera runs.")
MOVE_CLOSER = _msg("Move closer", "Live hint while the camera runs.")
FACE_CAMERA = _msg("Face the camera", "Live hint while the camera runs.")
USE_PHOTO = _msg("Use a photo instead (upload)")
ENROL = _msg("Enrol", "Button that submits the enrollment.")
ENROLLED = _msg("You are enrolled")
DOWNLOAD_RECEIPT = _msg("Download your consent receipt")
RECOVERY_CODE = _msg("Your recovery code — write it down, it is shown only once")
SIGN_IN_LINK_SENT = _msg("We sent a sign-in link to your email")
HOW_TO_WITHDRAW = _msg("How to withdraw or delete")
TICKET_REMAINS = _msg(
    "A ticket or card always remains available",
    "Enrolling is optional; the conventional way stays open without any disadvantage.",
)
CONTACT_POINT = _msg("Contact point", "Label before the operator's single contact point.")
TRIP_END_DATE = _msg("Trip end date", "Label of a date field.")
EMAIL_ADDRESS = _msg("Email address", "Label of a form field.")
CONTINUE = _msg("Continue")
BACK = _msg("Back")
TRY_AGAIN = _msg("Try again")
SIGN_IN = _msg("Sign in")
RETENTION_DAYS = _plural(
    "We delete your data %(num)d day after your trip ends.",
    "We delete your data %(num)d days after your trip ends.",
    "num is the retention grace period in days.",
)

# --- The enrollment page (enrollment_app/templates/enroll.html, static/enroll.js) -------------

PAGE_TITLE = _msg("Enrol for face recognition", "Title and main heading of the enrolment page.")
ENROL_INTRO = _msg(
    "Joining is optional. Read the notice, tick only what you agree to, then take a short "
    "selfie check."
)
STEP_OF = _msg("Step %(step)d of %(total)d", "Above each step of the enrolment page.")
NOTICE_VERSION = _msg("Notice version %(version)s", "version is a number.")
YOUR_CHOICES = _msg("Your choices", "Heading above the consent checkboxes and form fields.")
AT_VENUES = _msg("At these venues:", "Followed by one checkbox per venue.")
EMAIL_HINT = _msg("We send a link to your portal to this address.")
NEEDS_JS = _msg("This page needs JavaScript for the camera check.")
CAMERA_HEADING = _msg("Selfie check", "Heading of the camera step (liveness check).")
CAMERA_INTRO = _msg(
    "The camera is on only during the check. Nothing is recorded: the pictures are used once "
    "to make your face template and then discarded."
)
CAMERA_PERMISSION = _msg("Your browser will ask to use the camera.")
START_CHECK = _msg("Start the check", "Button: opens the camera and runs the head-turn check.")
CAMERA_PREVIEW = _msg("Camera preview (mirrored)", "Accessible name of the live video.")
CAPTURE_PROGRESS = _msg("Pictures taken", "Label of a progress bar during the check.")
HINT_OK = _msg("Good. Hold still.", "Live hint while the camera runs.")
HINT_IN_FRAME = _msg("Keep your whole face in the frame", "Live hint while the camera runs.")
CHECKING = _msg("Checking your pictures…", "Shown while the server checks the captured frames.")
CAMERA_UNAVAILABLE = _msg("The camera could not be started. You can use a photo instead.")
PHOTO_LABEL = _msg("Photo of your face", "Label of the file field of the upload fallback.")
PHOTO_HINT = _msg("Only you, looking at the camera, in good light. The photo is not stored.")
PHOTO_MISSING = _msg("Please choose a photo first.")
MAIL_FAILED_NOTE = _msg(
    "We could not send the sign-in email. You can sign in with your recovery code instead."
)
DELETION_DATE = _msg(
    "Your face template, contact details and account are deleted automatically on %(date)s."
    " A few records are kept longer, no longer linked to you: the notice lists them and for"
    " how long.",
    "date is a formatted calendar date.",
)
WITHDRAW_TEXT = _msg(
    "In the portal you can see and download your data, withdraw any consent, or delete "
    "everything, at any time:",
    "Followed by the portal's address.",
)
RECEIPT_NOTE = _msg("A signed record of what you agreed to, under which notice, and where.")

# --- The sign-in mail (optin/mail/compose.py) -------------------------------------------------

MAIL_SIGN_IN_SUBJECT = _msg("Your sign-in link", "Subject of the sign-in mail.")
MAIL_GREETING = _msg("Hello,", "First line of a mail.")
MAIL_SIGN_IN_INTRO = _msg(
    "Use this link to sign in to your portal, where you can see, download, withdraw or "
    "delete your data:",
    "The link follows on its own line.",
)
MAIL_SIGN_IN_EXPIRY = _plural(
    "The link works once and expires in %(num)d minute.",
    "The link works once and expires in %(num)d minutes.",
)
MAIL_NOT_REQUESTED = _msg("If you did not ask for this email, you can ignore it. Nothing changes.")
MAIL_CONTACT = _msg("Questions about your data: %(contact)s", "contact is an email address.")
MAIL_SENT_BY = _msg("This email was sent by %(operator)s.", "operator is the company name.")

# --- The change-of-purpose mail (optin/mail/compose.py) ---------------------------------------

MAIL_PURPOSE_CHANGE_SUBJECT = _msg(
    "We are changing how we use your data", "Subject of the mail announcing a change of purpose."
)
MAIL_PURPOSE_CHANGE_INTRO = _msg(
    "From %(date)s, our notice changes what we do for: %(purposes)s.",
    "date is a date and time; purposes are purpose names, e.g. 'Payment by face'.",
)
MAIL_PURPOSE_CHANGE_PAUSE = _msg(
    "From then on, we will not use your face for this until you agree to the new notice. "
    "Nothing else changes, and you do not have to do anything if you do not agree."
)
MAIL_PURPOSE_CHANGE_ACTION = _msg(
    "Read the new notice, agree again, or withdraw, in your portal:",
    "The portal link follows on its own line.",
)


# --- The self-service portal (enrollment_app/web/portal.py, templates/portal*.html, portal.js) --

PORTAL_TITLE = _msg("Your data", "Title and main heading of the portal page.")
PORTAL_INTRO = _msg(
    "Everything we hold about you, in plain language. You can take it with you, withdraw any "
    "consent, bring your deletion date forward or delete everything, at any time."
)
PORTAL_NEEDS_JS = _msg("This page needs JavaScript to sign in and to make changes.")
TIMES_IN_ZONE = _msg("Times are shown in %(zone)s.", "zone is a time zone, e.g. 'Japan Time'.")
ON_THIS_PAGE = _msg("On this page", "Heading of the portal's table of contents.")
# Sign-in
SIGN_IN_TITLE = _msg("Sign in to your portal", "Title and heading of the sign-in page.")
SIGN_IN_LINK_INTRO = _msg(
    "You opened the sign-in link from your email. Press the button to sign in. The link works "
    "only once."
)
SIGN_IN_OPTIONS = _msg(
    "Use the link in the email we sent you when you enrolled, or sign in with your recovery code."
)
SIGNING_IN = _msg("Signing you in…", "Shown while the sign-in is checked.")
LINK_USED = _msg(
    "This sign-in link has been used already or has expired. Please sign in with your recovery "
    "code."
)
RECOVERY_HEADING = _msg("Sign in with your recovery code")
RECOVERY_LABEL = _msg("Recovery code", "Label of a form field.")
RECOVERY_HINT = _msg(
    "The code you wrote down when you enrolled, for example ABCDE-12345-FGHIJ-67890.",
    "Keep the example code as it is.",
)
RECOVERY_MISSING = _msg("Please enter your recovery code.")
RECOVERY_WRONG = _msg("This recovery code is not valid. Please check it and try again.")
NOT_SIGNED_IN = _msg("You are not signed in", "Heading of the page shown without a session.")
SESSION_ENDED = _msg(
    "Your session has ended, or you have not signed in yet. Sessions end after a while without "
    "activity, to keep your data safe."
)
SIGNED_OUT = _msg("You have signed out.")
GO_TO_SIGN_IN = _msg("Go to sign-in", "Link to the sign-in page.")
SIGN_OUT = _msg("Sign out", "Button.")
# About the person
ABOUT_YOU = _msg("About you", "Portal section heading.")
ENROLLED_AT = _msg("Enrolled", "Label; followed by a date and time.")
HOW_ENROLLED = _msg("How you enrolled", "Label; followed by the method.")
METHOD_CAMERA = _msg("Selfie check with the camera", "Enrolment method.")
METHOD_UPLOAD = _msg("Uploaded photo", "Enrolment method.")
RECEIPT_REFERENCE = _msg(
    "Your reference on receipts", "Label; followed by the pseudonymous id printed on receipts."
)
# Consents
YOUR_CONSENTS = _msg("Your consents", "Portal section heading.")
CONSENT_AT = _msg(
    "%(purpose)s at %(venue)s", "purpose is e.g. 'Payment by face'; venue is a venue's name."
)
CONSENT_ACTIVE = _msg("In effect", "State of a consent that has not been withdrawn.")
CONSENT_WITHDRAWN = _msg("Withdrawn", "State of a consent.")
WITHDRAWN_ON = _msg("Withdrawn on", "Label; followed by a date and time.")
AGREED_AT = _msg("Agreed", "Label; followed by the date and time of the consent.")
NOTICE_AGREED = _msg("The notice you agreed to", "Opens a block with the full text of the notice.")
NOTICE_FINGERPRINT = _msg("Fingerprint of the text (SHA-256)", "Label; followed by a hash.")
WITHDRAW_THIS = _msg("Withdraw this consent", "Button.")
WITHDRAW_ALL = _msg("Withdraw all consents", "Button.")
WITHDRAW_HINT = _msg("A withdrawal works at once: within seconds the gates stop using it.")
NOTHING_CONSENTED = _msg("You have withdrawn every consent. No gate recognises you any more.")
WITHDRAWN_DONE = _msg(
    "Your withdrawal is done. Within seconds the gates stop using what you withdrew."
)
DOWNLOAD_WITHDRAWAL_RECEIPT = _msg("Download your withdrawal receipt")
WITHDRAWAL_RECEIPT_NOTE = _msg("A signed record of what you withdrew and when.")
# Withdrawing the last live consent erases the face template (optin/services/templates.py).
WITHDRAW_LAST_WARNING = _msg(
    "After this withdrawal no consent of yours is left, so your face template is erased at"
    " once: no gate can recognise you any more. Your account stays, so you can still sign in"
    " here. To use face recognition again, you would enrol again with a new selfie.",
    "Portal: shown before the person confirms withdrawing their last consent (or all of them).",
)
WITHDRAW_LAST_CONFIRM = _msg(
    "Yes, withdraw and erase my face template", "Button confirming the last withdrawal."
)
TEMPLATE_ERASED = _msg(
    "Your face template has been erased. To use face recognition again, enrol again with a"
    " new selfie.",
    "Portal: shown once every consent is withdrawn; followed by a link to enrolment.",
)
ENROL_AGAIN = _msg("Enrol again with a new selfie", "Link to the enrolment page.")
TEMPLATE_KEPT_WHILE = _msg(
    "It is erased at once when you withdraw your last consent, and when your data is deleted.",
    "Portal, face template section: how long the template is kept.",
)
# Renewal after a change of purpose (optin/services/renewal.py)
RENEWAL_HEADING = _msg(
    "Your renewed consent is needed",
    "Portal section heading, shown when a new notice changed what a purpose means.",
)
CONSENT_NEEDS_RENEWAL = _msg(
    "Needs your renewed consent",
    "State of a consent the gates stopped using because the notice changed; beside 'In effect'.",
)
RENEWAL_INTRO = _msg(
    "We have changed what a purpose means in our notice. Until you agree again on the new text, "
    "the gates do not use the consent you gave on the earlier one. Please read the new notice, "
    "then renew your consent, or withdraw it if you prefer. Nothing else changes."
)
RENEWAL_SINCE = _msg("Not used by the gates since", "Label; followed by a date and time.")
RENEWAL_AGREE = _msg(
    "I have read the new notice and agree to: %(consent)s",
    "Checkbox label, never pre-ticked. consent is e.g. 'Entry without a ticket at Onsen Hotel'.",
)
RENEWAL_BUTTON = _msg("Renew this consent", "Button.")
RENEWAL_TICK = _msg(
    "Please tick the box if you agree to the new notice. You can also withdraw the consent instead."
)
RENEWAL_UNAVAILABLE = _msg(
    "The current notice no longer covers this consent, so it cannot be renewed. You can "
    "withdraw it."
)
RENEWED_DONE = _msg("Your consent is renewed. Within seconds the gates use it again.")
DOWNLOAD_RENEWAL_RECEIPT = _msg("Download your renewal receipt")
RENEWAL_RECEIPT_NOTE = _msg("A signed record of what you agreed to again, on which notice.")
# Retention
DELETION_HEADING = _msg("When your data is deleted", "Portal section heading.")
NEW_DELETION_DATE = _msg("New deletion date", "Label of a date field.")
SHORTEN_HINT = _msg(
    "You can bring the date forward, not back. Keeping your data longer needs a new enrolment."
)
SHORTEN_BUTTON = _msg("Bring the date forward", "Button.")
DATE_MISSING = _msg("Please choose a date.")
RETENTION_CHANGED = _msg("Your deletion date has been brought forward.")
# Face template
TEMPLATE_HEADING = _msg("Your face template", "Portal section heading.")
TEMPLATE_HELD = _msg(
    "We hold one face template: numbers computed from your selfie, used only to recognise you "
    "at the gates you chose. It is encrypted under a key of your own and never shown, not even "
    "here."
)
TEMPLATE_MODEL = _msg("Model", "Label; followed by the name of the face model.")
TEMPLATE_CREATED = _msg("Created", "Label; followed by a date and time.")
NO_TEMPLATE = _msg("We hold no face template.")
# Venues
VENUES_HEADING = _msg("Venues and their gates", "Portal section heading.")
VENUES_INTRO = _msg(
    "Each venue's gates know you only by a pseudonym of their own, so venues cannot link their "
    "records about you."
)
PSEUDONYM = _msg("Pseudonym at this venue", "Label; followed by a code.")
GATES_ADD = _msg("Sent to the gates", "A change to a venue's gate list; followed by a time.")
GATES_REVOKE = _msg(
    "Removed from the gates", "A change to a venue's gate list; followed by a time."
)
# Gate events and passes
EVENTS_HEADING = _msg(
    "Visits and payments", "Portal section heading: where and when a gate recognised the person."
)
EVENTS_INTRO = _msg("Where and when a gate recognised you. No picture is kept.")
WHEN = _msg("When", "Label; followed by a date and time.")
VENUE = _msg("Venue", "Label; followed by a venue's name.")
GATE = _msg("Gate", "Label; followed by a gate's name.")
PURPOSE = _msg("Purpose", "Label; followed by e.g. 'Entry without a ticket'.")
RESULT = _msg("Result", "Label; followed by what the gate did.")
OUTCOME_GRANTED = _msg(
    "Done", "A gate event's result: the gate opened or the payment went through."
)
OUTCOME_NO_CONSENT = _msg("Not used: you had not agreed to this here", "A gate event's result.")
OUTCOME_NO_ENTITLEMENT = _msg("Not used: no valid pass", "A gate event's result.")
OUTCOME_REFUSED = _msg("Refused; the usual way was open to you", "A gate event's result.")
PASSES_HEADING = _msg("Entry passes", "Portal section heading.")
VALID_FROM = _msg("Valid from", "Label; followed by a date and time.")
VALID_UNTIL = _msg("Valid until", "Label; followed by a date and time.")
NONE_YET = _msg("None.", "Shown in an empty portal section.")
# Privacy requests
REQUESTS_HEADING = _msg("Your requests to the privacy team", "Portal section heading.")
REQUEST_KIND_ACCESS = _msg("Question about your data", "Kind of privacy request.")
REQUEST_KIND_DELETION = _msg("Deletion", "Kind of privacy request.")
REQUEST_KIND_CORRECTION = _msg("Correction", "Kind of privacy request.")
REQUEST_KIND_WITHDRAWAL = _msg("Withdrawal of consent", "Kind of privacy request.")
REQUEST_KIND_OBJECTION = _msg("Objection or complaint", "Kind of privacy request.")
REQUEST_RECEIVED = _msg("Received", "State of a privacy request.")
RECEIVED_ON = _msg("Received on", "Label; followed by a date and time.")
REQUEST_VERIFIED = _msg("Identity checked", "State of a privacy request.")
REQUEST_IN_PROGRESS = _msg("In progress", "State of a privacy request.")
REQUEST_COMPLETED = _msg("Completed", "State of a privacy request.")
REQUEST_REJECTED = _msg("Declined", "State of a privacy request.")
STATUS = _msg("Status", "Label; followed by a request's state.")
ANSWER_DUE = _msg("Answer due by", "Label; followed by a date and time.")
CLOSED_AT = _msg("Closed", "Label; followed by a date and time.")
OUTCOME = _msg("Outcome", "Label; followed by the privacy team's answer.")
REQUEST_FORM_HEADING = _msg("Ask us for something else")
REQUEST_FORM_INTRO = _msg(
    "For what you cannot do here yourself, such as correcting your email address or objecting "
    "to how your data is used."
)
REQUEST_ANSWER_DAYS = _plural(
    "We answer within %(num)d day.",
    "We answer within %(num)d days.",
    "num is the number of days the privacy team has to answer.",
)
REQUEST_KIND_LABEL = _msg("What do you need?", "Label of a list of request kinds.")
REQUEST_CHOICE_CORRECTION = _msg("Correct something that is wrong")
REQUEST_CHOICE_OBJECTION = _msg("Object to or complain about how your data is used")
REQUEST_CHOICE_ACCESS = _msg("Another question about your data")
REQUEST_DETAILS_LABEL = _msg("Describe your request", "Label of a text area.")
REQUEST_SEND = _msg("Send the request", "Button.")
REQUEST_MISSING = _msg("Please describe your request.")
REQUEST_FILED = _msg(
    "We received your request. We will answer by %(date)s.", "date is a formatted date."
)
# Operator accesses and third parties
ACCESSES_HEADING = _msg("Who at the operator opened your data", "Portal section heading.")
ACCESSES_INTRO = _msg(
    "Every time staff open, export or release your data, it is logged with the reason."
)
WHO = _msg("Who", "Label; followed by a role, e.g. 'Operator staff'.")
WHAT = _msg("What", "Label; followed by the recorded action.")
WHY = _msg("Why", "Label; followed by the recorded reason.")
ACTOR_OPERATOR = _msg("Operator staff", "Who accessed the data.")
ACTOR_SYSTEM = _msg("Automatic process", "Who accessed the data.")
ACTOR_GATE = _msg("Venue gate", "Who accessed the data.")
ACTOR_SUBJECT = _msg("You", "Who accessed the data.")
NO_ACCESSES = _msg("No one at the operator has opened your data.")
SHARED_HEADING = _msg("Given to others", "Portal section heading: third-party provision.")
NOT_SHARED = _msg("Your data has not been given to anyone else.")
PROVISION_TO = _msg("To whom", "Label; followed by the recipient's name.")
PROVISION_BASIS = _msg("On what basis", "Label; followed by the legal basis of a provision.")
PROVISION_BY_CONSENT = _msg("Your consent to this recipient")
PROVISION_BY_LAW = _msg(
    "Released to law enforcement under a legal obligation (reference: %(reference)s)",
    "reference is e.g. a warrant number.",
)
GIVEN_HEADING = _msg("What has been given", "Portal sub-heading: provisions already made.")
RECIPIENTS_HEADING = _msg(
    "Who may receive your data, if you agree", "Portal sub-heading: third parties to consent to."
)
RECIPIENTS_INTRO = _msg(
    "We give nothing to any of these organisations unless you agree here, separately for each "
    "one. Agreeing is optional and changes nothing else: the gates and payment work the same "
    "either way. You can withdraw each agreement at any time."
)
NO_RECIPIENTS = _msg("No organisation can receive your data with your consent at present.")
RECIPIENT_RECEIVES = _msg("What they would receive", "Label; followed by a list of data items.")
RECIPIENT_CONTACT = _msg("Contact", "Label; followed by the recipient's address or contact.")
RECIPIENT_AGREED = _msg("You have agreed", "State of a consent to provision to one recipient.")
RECIPIENT_NOT_AGREED = _msg(
    "You have not agreed", "State of a consent to provision to one recipient."
)
RECIPIENT_RETIRED = _msg(
    "This organisation no longer receives any data. You can still withdraw your agreement."
)
RECIPIENT_AGREE = _msg(
    "I agree that %(recipient)s may receive the data listed above, for the purpose stated.",
    "Checkbox label, never pre-ticked; recipient is an organisation's name.",
)
RECIPIENT_AGREE_BUTTON = _msg(
    "Agree to giving my data to %(recipient)s", "Button; recipient is an organisation's name."
)
RECIPIENT_WITHDRAW_BUTTON = _msg(
    "Withdraw my agreement for %(recipient)s", "Button; recipient is an organisation's name."
)
RECIPIENT_TICK = _msg(
    "To agree, please tick the box first. If you do not want to, simply leave it.",
    "Shown when the agree button is pressed without the box ticked.",
)
RECIPIENT_AGREED_DONE = _msg(
    "Your agreement is recorded. Whenever data is given, it is listed on this page."
)
RECIPIENT_WITHDRAWN_DONE = _msg(
    "Your agreement is withdrawn. Nothing more will be given to this organisation."
)
DOWNLOAD_PROVISION_RECEIPT = _msg("Download the receipt for this change", "Link.")
PROVISION_RECEIPT_NOTE = _msg(
    "A signed record of the organisation, what it may receive and why, and when you agreed or "
    "withdrew."
)
#: What each providable item (optin.services.provisions.PROVIDABLE) gives, in the person's words.
PROVISION_ITEMS: Final[Mapping[str, str]] = {
    "subjects.id": _msg("Your id in our records (a pseudonym, not your name)"),
    "consents": _msg("Your consents: purpose, venue, notice version, when given and withdrawn"),
    "events": _msg("Your visits: venue, gate, purpose, result and time"),
    "entitlements": _msg("Your entry passes: venue, product and validity"),
    "charges": _msg("Your payments: venue, item, amount, status and time"),
    "subjects.contact_ciphertext": _msg("Your email address"),
}
# Export, print, delete
TAKE_IT_HEADING = _msg("Take your data with you", "Portal section heading.")
EXPORT_HINT = _msg(
    "A machine-readable file with everything on this page. It is made when you ask for it and "
    "not kept."
)
EXPORT_LINK = _msg("Download all your data (JSON)", "Link.")
PRINT_PAGE = _msg("Print this page", "Button.")
DELETE_HEADING = _msg("Delete everything", "Portal section heading.")
DELETE_TEXT = _msg(
    "This destroys your face template and your contact details, withdraws every consent and "
    "removes you from every gate. It cannot be undone. What you agreed to stays on record, "
    "without your contact details."
)
DELETE_BUTTON = _msg("Delete all my data", "Button; a confirmation follows.")
DELETE_CONFIRM = _msg("Are you sure? This cannot be undone.")
DELETE_YES = _msg("Yes, delete everything", "Button.")
CANCEL = _msg("Cancel", "Button.")
DELETED_HEADING = _msg("Your data has been deleted")
DELETED_TEXT = _msg(
    "Your face template can no longer be read by anyone, you have been removed from every gate "
    "and you are signed out."
)
DOWNLOAD_DELETION_RECEIPT = _msg("Download your deletion receipt")
DELETION_RECEIPT_NOTE = _msg("A signed record that your data was deleted. Keep it as proof.")

# Payment (the portal's payment section)
PAYMENT_INTRO = _msg(
    "Where you agreed to payment by face, the till can charge your card when it recognises you. "
    "Above a venue's limit it also asks for your PIN."
)
PAYMENT_ON_AT = _msg(
    "Payment by face is on at: %(venues)s", "venues is a comma-separated list of venue names."
)
PAYMENT_PAUSED = _msg(
    "Payment by face is paused until you renew your consent above.",
    "Shown when every payment consent needs renewal after a change of purpose.",
)
PAYMENT_OFF = _msg("You have not agreed to payment by face, so we keep no card for you.")
CARD = _msg("Card", "Label; followed by e.g. 'VISA 4242'.")
CARD_ADDED = _msg("Added", "Label; followed by a date and time.")
NO_CARD = _msg("No card yet.")
REMOVE_CARD = _msg("Remove this card", "Button.")
CARD_FORM_HEADING = _msg("Add or replace your card", "Heading of the card form.")
CARD_FORM_NOTE = _msg(
    "Your card number goes straight from this page to the payment company. We never receive "
    "it: we keep only a reference to the card and its last four digits."
)
CARD_NUMBER = _msg("Card number", "Label of a form field.")
CARD_EXP_MONTH = _msg("Expiry month (MM)", "Label of a form field.")
CARD_EXP_YEAR = _msg("Expiry year (YY)", "Label of a form field.")
CARD_CVC = _msg("Security code (CVC)", "Label of a form field; the 3 or 4 digits on the card.")
SAVE_CARD = _msg("Save the card", "Button.")
CARD_MISSING = _msg("Please fill in every card field.")
CARD_REFUSED = ERROR_MESSAGES["payment-provider-rejected"]
CARD_SAVED = _msg("Your card %(label)s is saved.", "label is e.g. 'VISA 4242'.")
CARD_REMOVED = _msg("Your card is removed. Payment by face cannot charge you until you add one.")
PIN_HEADING = _msg("Payment PIN", "Portal section heading.")
PIN_IS_SET = _msg("A PIN is set.")
PIN_NOT_SET = _msg("No PIN yet. Payments above a venue's limit need one.")
PIN_LOCKED_UNTIL = _msg(
    "Your PIN is locked until %(date)s after too many wrong tries. Setting a new PIN unlocks it.",
    "date is a formatted date and time.",
)
PIN_HINT = _msg("4 to 6 digits. Easy ones such as 1234 or 0000 are not accepted.")
NEW_PIN = _msg("New PIN", "Label of a form field.")
NEW_PIN_AGAIN = _msg("The new PIN again", "Label of a form field.")
SAVE_PIN = _msg("Save the PIN", "Button.")
PIN_MISSING = _msg("Please enter a PIN of 4 to 6 digits.")
PIN_MISMATCH = _msg("The two PINs are not the same.")
PIN_SAVED = _msg("Your PIN is saved.")
PAYMENTS_HEADING = _msg("Your payments", "Portal section heading.")
ITEM = _msg("Item", "Label; followed by what was bought.")
AMOUNT = _msg("Amount", "Label; followed by a sum of money.")
REFUNDED = _msg("Refunded", "Label; followed by a sum of money. Also a payment's state.")
CHARGE_CAPTURED = _msg("Paid", "A payment's state.")
CHARGE_DECLINED = _msg("Declined by the card", "A payment's state.")
CHARGE_REFUSED = _msg("Not charged", "A payment's state: refused before reaching the card.")
CHARGE_PARTLY_REFUNDED = _msg("Partly refunded", "A payment's state.")
CHARGE_OPEN = _msg("Not completed", "A payment's state: started but not finished.")

# --- Gate notice and signage (enrollment_app/templates/signage.html, venue_notice.html) ------

SIGN_HEADING = _msg(
    "Face recognition in operation",
    "Main heading of the sign posted at a venue's gate, and of the venue's notice page.",
)
SIGN_OPERATOR = _msg("Operator: %(operator)s", "operator is the operator's legal name.")
SIGN_PURPOSES = _msg(
    "Used here for: %(purposes)s", "purposes is a list of purposes, e.g. entry without a ticket."
)
SIGN_ONLY_ENROLLED = _msg(
    "The cameras recognise only people who chose to enrol for this venue.",
    "On the sign at the gate.",
)
SIGN_OTHERS = _msg(
    "If you have not enrolled, your face is processed in memory only and discarded at once. "
    "Nothing about you is stored.",
    "On the sign at the gate: what happens to people who did not enrol.",
)
SIGN_LANE = _msg(
    "Prefer no camera? Use the conventional lane. It stays open to everyone, without any "
    "disadvantage.",
    "On the sign at the gate: the camera-free lane (ticket, card or staff).",
)
SIGN_RETENTION_HEADING = _msg("How long data is kept", "Heading on the sign at the gate.")
SIGN_SCAN = _msg(
    "Scan the code to read the full notice:", "Next to the QR code; followed by its address."
)
SIGN_QR_TITLE = _msg(
    "QR code that opens the notice for %(venue)s",
    "Accessible name of the QR code image; venue is the venue's name.",
)
SIGN_VENUE_NOTICE = _msg(
    "Notice for %(venue)s", "Title of a venue's public notice page; venue is its name."
)
SIGN_PRINT = _msg("Printable sign", "Link from the notice page to the printable sign.")


def msgids() -> list[str]:
    """The distinct msgids, in order (a msgid can serve several error and reason codes)."""
    return list(dict.fromkeys(message.msgid for message in ALL))


__all__ = ["ALL", "ERROR_MESSAGES", "REASON_MESSAGES", "Message", "msgids"]

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
    "too-many-requests": _msg("Too many attempts. Please wait a moment and try again."),
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
    "crypto-failure": _msg("A security check failed. Please contact us."),
    "key-destroyed": _msg("This data has been deleted and can no longer be read."),
    "configuration": _msg("The service is not available right now. Please try again later."),
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
    "Everything is deleted automatically on %(date)s.", "date is a formatted calendar date."
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


def msgids() -> list[str]:
    """The distinct msgids, in order (a msgid can serve several error and reason codes)."""
    return list(dict.fromkeys(message.msgid for message in ALL))


__all__ = ["ALL", "ERROR_MESSAGES", "REASON_MESSAGES", "Message", "msgids"]

"""The requester's languages: English (the message ids) and Spanish, for the pages served under ``/ccpa/request``.

Templates mark text with ``_()`` (Jinja2's i18n extension, new-style gettext: ``_("by %(date)s", date=d)``); dates
are formatted by Babel for the language.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from include import config

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"

#: English message id -> Spanish.
SPANISH: dict[str, str] = {
    # form
    "Ask what personal information we hold about you": "Pregunte qué información personal tenemos sobre usted",
    "Under the California Consumer Privacy Act you may ask us, free of charge, what personal information we hold "
    "about you. We confirm receipt by email and answer within 45 days.": (
        "Según la Ley de Privacidad del Consumidor de California, puede preguntarnos, sin costo, qué información "
        "personal tenemos sobre usted. Confirmamos la recepción por correo electrónico y respondemos en un plazo de "
        "45 días."
    ),
    "Fields marked required must be filled in; everything else is optional and helps us verify it is you.": (
        "Los campos marcados como obligatorios deben completarse; todo lo demás es opcional y nos ayuda a verificar "
        "su identidad."
    ),
    "required": "obligatorio",
    "optional": "opcional",
    "Language": "Idioma",
    "English": "Inglés",
    "Spanish": "Español",
    "Your full name": "Su nombre completo",
    "Your email address": "Su correo electrónico",
    "We send our answer to this address.": "Enviamos nuestra respuesta a esta dirección.",
    "What are you asking for?": "¿Qué solicita?",
    "A copy of the specific pieces of personal information you hold about me": (
        "Una copia de los datos personales específicos que tienen sobre mí"
    ),
    "The categories of personal information you hold about me, where it comes from and whom you share it with": (
        "Las categorías de información personal que tienen sobre mí, de dónde proviene y con quién la comparten"
    ),
    "Details that help us find and verify you": "Datos que nos ayudan a encontrarle y verificar su identidad",
    "Phone number": "Número de teléfono",
    "Postal address": "Dirección postal",
    "Account number": "Número de cuenta",
    "Photo ID": "Documento de identidad con foto",
    "A JPEG, PNG or PDF file of at most 5 MB. We use it only to verify your identity and delete it when we have "
    "answered.": (
        "Un archivo JPEG, PNG o PDF de 5 MB como máximo. Lo usamos solo para verificar su identidad y lo eliminamos "
        "cuando hayamos respondido."
    ),
    "I declare under penalty of perjury under the laws of the State of California that I am the person named "
    "above and that this request is about my own personal information.": (
        "Declaro bajo pena de perjurio según las leyes del Estado de California que soy la persona indicada arriba y "
        "que esta solicitud se refiere a mi propia información personal."
    ),
    "Leave this field empty": "Deje este campo vacío",
    "Send my request": "Enviar mi solicitud",
    "There is a problem with your request": "Hay un problema con su solicitud",
    # validation
    "Enter your full name.": "Escriba su nombre completo.",
    "Your name must be at most 200 characters.": "Su nombre debe tener como máximo 200 caracteres.",
    "Enter a valid email address, such as name@example.com.": (
        "Escriba un correo electrónico válido, por ejemplo nombre@ejemplo.com."
    ),
    "Choose what you are asking for.": "Elija qué solicita.",
    "Enter a phone number of 7 to 15 digits, or leave it empty.": (
        "Escriba un número de teléfono de 7 a 15 dígitos, o déjelo vacío."
    ),
    "The postal address must be at most 300 characters.": "La dirección postal debe tener como máximo 300 caracteres.",
    "An account number uses letters, digits, dots, dashes and underscores (at most 100).": (
        "Un número de cuenta usa letras, dígitos, puntos, guiones y guiones bajos (100 como máximo)."
    ),
    "The photo ID must be a JPEG, PNG or PDF file.": "El documento con foto debe ser un archivo JPEG, PNG o PDF.",
    "The photo ID must be at most 5 MB.": "El documento con foto debe ocupar 5 MB como máximo.",
    "This form has expired or was already sent. Check your details and send it again.": (
        "Este formulario ha caducado o ya fue enviado. Revise sus datos y envíelo de nuevo."
    ),
    "We could not accept this form. Please try again.": "No pudimos aceptar este formulario. Inténtelo de nuevo.",
    "Too many requests from your connection. Please try again later.": (
        "Demasiadas solicitudes desde su conexión. Inténtelo de nuevo más tarde."
    ),
    "We have already received several requests for this email address today. We will answer them: you do not need "
    "to send another.": (
        "Ya recibimos hoy varias solicitudes para este correo electrónico. Las responderemos: no necesita enviar otra."
    ),
    "This form must be sent from our website.": "Este formulario debe enviarse desde nuestro sitio web.",
    "We could not record your request just now, and nothing was sent. Please try again in a few minutes.": (
        "No pudimos registrar su solicitud en este momento y no se envió nada. Inténtelo de nuevo en unos minutos."
    ),
    "Something went wrong": "Algo salió mal",
    "Back to the form": "Volver al formulario",
    # receipt
    "We received your request": "Recibimos su solicitud",
    "Your reference is %(reference)s.": "Su referencia es %(reference)s.",
    "We will answer by %(date)s.": "Le responderemos a más tardar el %(date)s.",
    "An email confirming your request is on its way to the address you gave. If it does not arrive within an hour, "
    "check your spam folder.": (
        "Un correo electrónico que confirma su solicitud va en camino a la dirección que indicó. Si no llega en una "
        "hora, revise su carpeta de correo no deseado."
    ),
    "Follow your request": "Seguir su solicitud",
    "Keep this link: it shows where your request stands, without any personal information.": (
        "Guarde este enlace: muestra en qué estado está su solicitud, sin ninguna información personal."
    ),
    # status
    "Your request %(reference)s": "Su solicitud %(reference)s",
    "Received": "Recibida",
    "We have received your request and are registering it.": "Hemos recibido su solicitud y la estamos registrando.",
    "We received your request on %(date)s.": "Recibimos su solicitud el %(date)s.",
    "Verifying": "Verificando",
    "We are verifying your identity before we disclose anything.": (
        "Estamos verificando su identidad antes de revelar cualquier información."
    ),
    "Preparing": "En preparación",
    "Your identity is verified; we are preparing our answer.": (
        "Su identidad está verificada; estamos preparando nuestra respuesta."
    ),
    "Answered": "Respondida",
    "Answered on %(date)s. Our answer was sent by email.": "Respondida el %(date)s. Enviamos la respuesta por correo.",
    "Answered with your earlier request": "Respondida junto con su solicitud anterior",
    "You had already asked us; we answer both requests together.": (
        "Ya nos lo había solicitado; respondemos ambas solicitudes juntas."
    ),
    "Extended": "Prorrogada",
    "Extended to %(date)s, because: %(reason)s": "Prorrogada hasta el %(date)s, porque: %(reason)s",
    "Our answer is due by %(date)s.": "Nuestra respuesta vence el %(date)s.",
    "This link is not valid.": "Este enlace no es válido.",
    "Questions? Reply to any email we sent you about this request.": (
        "¿Preguntas? Responda a cualquier correo que le hayamos enviado sobre esta solicitud."
    ),
    "Status of a privacy request": "Estado de una solicitud de privacidad",
    "Privacy request": "Solicitud de privacidad",
}

CATALOGS: dict[str, dict[str, str]] = {"en": {}, "es": SPANISH}


def language_or_default(value: str | None) -> str:
    """``value`` if it is one of ours, else the Variable ``ccpa_default_language``, else English."""
    if value in LANGUAGES:
        return value  # type: ignore[return-value]
    default = config.get_variable(config.VAR_DEFAULT_LANGUAGE, DEFAULT_LANGUAGE)
    return default if default in LANGUAGES else DEFAULT_LANGUAGE


def gettext_for(language: str) -> Any:
    catalog = CATALOGS.get(language, {})

    def gettext(message: str, **variables: Any) -> str:
        """New-style gettext: the translation, then ``%(name)s`` filled in (autoescape escapes the result)."""
        text = catalog.get(message, message)
        return text % variables if variables else text

    def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
        return gettext(singular if n == 1 else plural, num=n, **variables)

    return gettext, ngettext


def long_date(value: date | datetime, language: str) -> str:
    """ "December 5, 2026" / "5 de diciembre de 2026"."""
    return format_date(value, format="long", locale=language)


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(config.INCLUDE_DIR / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_null_translations(newstyle=True)
    return env


_env = environment()


def render(template: str, language: str, **context: Any) -> str:
    gettext, ngettext = gettext_for(language)
    tmpl = _env.get_template(template)
    return tmpl.render(_=gettext, gettext=gettext, ngettext=ngettext, lang=language, languages=LANGUAGES, **context)

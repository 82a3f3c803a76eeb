"""Handlebars payload templates that cannot execute code; see ``safe`` and ``render``."""

from fineract_hub.templates.errors import RenderError, TemplateRejected
from fineract_hub.templates.escaping import FORM, JSON, TEXT, XML, content_kind
from fineract_hub.templates.render import (
    DEFAULT_MAX_BYTES,
    CompiledTemplate,
    cached_template,
    compile_template,
    render_default,
    sample_context,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORM",
    "JSON",
    "TEXT",
    "XML",
    "CompiledTemplate",
    "RenderError",
    "TemplateRejected",
    "cached_template",
    "compile_template",
    "content_kind",
    "render_default",
    "sample_context",
]

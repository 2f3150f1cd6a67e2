"""The card templates' language: Jinja2, set up for byte-exact markdown.

Cards must match published markdown byte for byte, so the environment adds
nothing of its own and drops the lines that only hold a tag:

* `trim_blocks` and `lstrip_blocks`: a line holding nothing but a block tag
  (`{% if %}`, `{% else %}`, `{% include "_x.md" %}`, ...) or a comment
  disappears with its newline, so blocks can sit on lines of their own. A
  tag that ends a line of text keeps that line's newline when written
  `+%}` (Jinja would otherwise remove it too).
* `StrictUndefined`: every name a template uses must have a value.
* `keep_trailing_newline`: a card ends with its last newline.

Templates are found in the given directories in order, so a config can name
a template of its own that includes the stock partials.
"""

import jinja2


class TemplateError(ValueError):
  """A template is malformed, missing, or uses a name that has no value."""


def environment(directories):
  return jinja2.Environment(
      loader=jinja2.FileSystemLoader(list(directories)),
      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
      undefined=jinja2.StrictUndefined, autoescape=False)


def _render(template_fn, name, values):
  try:
    return template_fn().render(values)
  except jinja2.TemplateNotFound as e:
    raise TemplateError(f"no template {e.name!r}") from None
  except jinja2.TemplateSyntaxError as e:
    raise TemplateError(f"{e.name or name}, line {e.lineno}: {e.message}"
                        ) from None
  except jinja2.UndefinedError as e:
    raise TemplateError(f"{name}: {e.message}") from None


class Loader:
  """Renders `<name>.md` templates found in `directories` (in order)."""

  def __init__(self, *directories):
    self.directories = directories
    self._env = environment(directories)

  def render(self, name, values):
    return _render(lambda: self._env.get_template(name + ".md"), name,
                   values)


def render_string(text, values, directories=()):
  """Renders template text (tests, one-off templates)."""
  env = environment(directories)
  return _render(lambda: env.from_string(text), "<string>", values)

"""A minimal text template language for the model cards (stdlib only).

Cards must match published markdown byte for byte, so the language is
line-oriented and adds nothing of its own:

  {{ name }}                   the value of `name` (every name must be set)
  {% if a and not b %} ... {% elif c or d %} ... {% else %} ... {% endif %}
  {% include name %}           the template `name` with the same values
  {# comment #}                dropped

A line holding nothing but one tag or comment disappears with its newline,
so block tags can sit on lines of their own without leaving blank lines.
Tags inside a line of text are replaced in place. Conditions combine
boolean names with `and`, `or`, `not` and parentheses.
"""

import keyword
import os
import re

_TAG = re.compile(r"{{\s*(\w+)\s*}}|{%\s*(.*?)\s*%}|{#.*?#}", re.S)
# A tag or comment alone on its line (the line and its newline are consumed).
_LONE_TAG = re.compile(r"^[ \t]*({%[^%\n]*%}|{#[^#\n]*#})[ \t]*\n", re.M)
_CONDITION_TOKEN = re.compile(r"\(|\)|\w+")


class TemplateError(ValueError):
  """A template is malformed or uses a name that has no value."""


class _Node:

  def __init__(self, kind, arg=None):
    self.kind, self.arg = kind, arg
    self.children = []   # For "if": list of (condition or None, [nodes]).


def _check_condition(template, condition):
  tokens = _CONDITION_TOKEN.findall(condition)
  if "".join(tokens) != re.sub(r"\s", "", condition) or not tokens:
    raise TemplateError(f"{template}: bad condition {condition!r}")
  names = [t for t in tokens if t not in ("(", ")", "and", "or", "not")]
  for name in names:
    if keyword.iskeyword(name) or not name.isidentifier():
      raise TemplateError(f"{template}: bad name {name!r} in {condition!r}")
  return compile(condition, template, "eval"), names


class Template:
  """A parsed template; `render(values, loader)` returns the text."""

  def __init__(self, name, text):
    self.name = name
    self._root = self._parse(_LONE_TAG.sub(r"\1", text))

  def _parse(self, text):
    root = _Node("root")
    stack = [root]
    branch = root.children  # Where nodes go now.
    pos = 0
    for match in _TAG.finditer(text):
      if match.start() > pos:
        branch.append(_Node("text", text[pos:match.start()]))
      pos = match.end()
      variable, statement = match.group(1), match.group(2)
      if variable:
        branch.append(_Node("var", variable))
      elif statement is None:  # A comment.
        continue
      else:
        word, _, rest = statement.partition(" ")
        rest = rest.strip()
        if word == "if":
          node = _Node("if")
          node.children.append((_check_condition(self.name, rest), []))
          branch.append(node)
          stack.append(node)
          branch = node.children[-1][1]
        elif word in ("elif", "else", "endif") and stack[-1].kind == "if":
          node = stack[-1]
          if word == "endif":
            stack.pop()
            top = stack[-1]
            branch = top.children if top.kind == "root" else top.children[-1][1]
          else:
            if node.children[-1][0] is None:
              raise TemplateError(f"{self.name}: {word} after else")
            condition = (_check_condition(self.name, rest)
                         if word == "elif" else None)
            node.children.append((condition, []))
            branch = node.children[-1][1]
        elif word == "include" and rest:
          branch.append(_Node("include", rest))
        else:
          raise TemplateError(f"{self.name}: unexpected {{% {statement} %}}")
    if len(stack) > 1:
      raise TemplateError(f"{self.name}: {{% if %}} without {{% endif %}}")
    if pos < len(text):
      branch.append(_Node("text", text[pos:]))
    return root

  def render(self, values, loader):
    out = []
    self._render(self._root.children, values, loader, out)
    return "".join(out)

  def _render(self, nodes, values, loader, out):
    for node in nodes:
      if node.kind == "text":
        out.append(node.arg)
      elif node.kind == "var":
        if node.arg not in values:
          raise TemplateError(f"{self.name}: no value for {node.arg!r}")
        out.append(str(values[node.arg]))
      elif node.kind == "include":
        out.append(loader.get(node.arg).render(values, loader))
      else:
        for condition, body in node.children:
          if condition is None or self._holds(condition, values):
            self._render(body, values, loader, out)
            break

  def _holds(self, condition, values):
    code, names = condition
    missing = [n for n in names if n not in values]
    if missing:
      raise TemplateError(f"{self.name}: no value for {missing[0]!r}")
    return eval(code, {"__builtins__": {}},  # pylint: disable=eval-used
                {n: bool(values[n]) for n in names})


class Loader:
  """Reads `<name>.md` templates from a directory, each parsed once."""

  def __init__(self, directory):
    self.directory = directory
    self._cache = {}

  def get(self, name):
    if name not in self._cache:
      path = os.path.join(self.directory, name + ".md")
      try:
        with open(path, encoding="utf-8", newline="") as f:
          self._cache[name] = Template(name, f.read())
      except FileNotFoundError:
        raise TemplateError(f"no template {name!r} in {self.directory}") from None
    return self._cache[name]

  def render(self, name, values):
    return self.get(name).render(values, self)

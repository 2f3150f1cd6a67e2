"""The hub's static pages: `/` an index of the models with a filter, and
`/<handle>/index.html` per module: its card rendered as HTML, the download
link, size and sha256 from the manifest, its Kaggle handle and a usage
snippet to copy. Plain files, written deterministically (same manifest,
configs and base URL, same bytes), so any static host can serve them.
"""

import html
import os
import shutil

import markdown_it

from export import cards
from export.core import config as config_lib
from export.core import published
from export.serving import catalog

# The filter's fields: (fact name, label).
FILTERS = (("architecture", "Architecture"), ("multiplier", "Multiplier"),
           ("input_size", "Input size"), ("kind", "Kind"),
           ("format", "Format"))
INDEX = "index.html"

_STYLE = """
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#202124;background:#fff}
header,main{max-width:60rem;margin:0 auto;padding:0 1rem}
header{border-bottom:1px solid #ddd}
a{color:#1558d6}
h1{font-size:1.6rem}
h1,h2,code{overflow-wrap:anywhere}
a:focus,button:focus,select:focus,input:focus{outline:3px solid #f9ab00;outline-offset:2px}
form{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0}
form label{display:flex;flex-direction:column;font-size:.9rem;min-width:9rem;flex:1}
select,input,button{font:inherit;padding:.4rem;min-height:2.5rem}
ul.models{list-style:none;padding:0}
ul.models li{padding:.5rem 0;border-bottom:1px solid #eee;overflow-wrap:anywhere}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
.facts dt{font-weight:600}.facts dd{margin:0;overflow-wrap:anywhere}
pre{background:#f1f3f4;padding:.75rem;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}
table{border-collapse:collapse;display:block;overflow-x:auto}
td,th{border:1px solid #ddd;padding:.25rem .5rem}
.muted{color:#5f6368;font-size:.9rem}
@media (max-width:40rem){.facts{grid-template-columns:1fr}.facts dd{margin-bottom:.5rem}}
"""

_FILTER_SCRIPT = """
(function(){
var form=document.getElementById('filter');
var items=[].slice.call(document.querySelectorAll('ul.models li'));
var count=document.getElementById('count');
function apply(){
  var want={};
  [].forEach.call(form.elements,function(e){if(e.name&&e.value)want[e.name]=e.value;});
  var shown=0;
  items.forEach(function(li){
    var ok=Object.keys(want).every(function(k){
      return k==='q'?li.dataset.handle.indexOf(want.q)>=0:li.dataset[k]===want[k];});
    li.hidden=!ok;if(ok)shown++;});
  [].forEach.call(document.querySelectorAll('section.publisher'),function(s){
    s.hidden=!s.querySelector('li:not([hidden])');});
  count.textContent=shown+' of '+items.length+' models';
}
var query=new URLSearchParams(location.search);
[].forEach.call(form.elements,function(e){if(e.name&&query.has(e.name))e.value=query.get(e.name);});
form.addEventListener('change',function(){
  var q=new URLSearchParams();
  [].forEach.call(form.elements,function(e){if(e.name&&e.value)q.set(e.name,e.value);});
  history.replaceState(null,'',q.toString()?'?'+q:location.pathname);apply();});
form.addEventListener('input',apply);
form.addEventListener('submit',function(ev){ev.preventDefault();apply();});
apply();
})();
"""

_COPY_SCRIPT = """
document.querySelectorAll('button[data-copy]').forEach(function(b){
  b.addEventListener('click',function(){
    var text=document.getElementById(b.dataset.copy).textContent;
    navigator.clipboard.writeText(text).then(function(){b.textContent='Copied';});
  });});
"""


def _esc(text):
  return html.escape(str(text), quote=True)


def _page(title, body, script=""):
  return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
          '<meta name="viewport" '
          'content="width=device-width, initial-scale=1">\n'
          f'<title>{_esc(title)}</title>\n<style>{_STYLE}</style>\n</head>\n'
          f'<body>\n{body}\n'
          + (f"<script>{script}</script>\n" if script else "")
          + "</body>\n</html>\n")


def human_size(size):
  for unit in ("bytes", "KiB", "MiB", "GiB"):
    if size < 1024 or unit == "GiB":
      return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
    size /= 1024


def usage(item, base_url):
  """The snippet that loads `item` from the hub at `base_url`."""
  url = f"{base_url}/{item.handle}"
  if item.format == published.FORMAT_SAVED_MODEL_2:
    return ("import tensorflow_hub as hub\n\n"
            f'model = hub.load("{url}")\n'
            f'layer = hub.KerasLayer("{url}")')
  if item.format == published.FORMAT_HUB:
    return ("import tensorflow_hub as hub  # TF1, or tf.compat.v1\n\n"
            f'module = hub.Module("{url}")')
  if item.is_tfjs:
    return ('import * as tf from "@tensorflow/tfjs";\n\n'
            f'const model = await tf.loadGraphModel("{url}", '
            "{fromTFHub: true});")
  if item.query:
    name, value = item.query
    return f'curl -L -o "{os.path.basename(item.entry.archive)}" ' \
           f'"{url}?{name}={value}"'
  return (f'curl -L -O "{base_url}/{item.entry.archive}"')


def _markdown():
  md = markdown_it.MarkdownIt("commonmark", {"html": False}).enable("table")
  return md


def card_html(item, served):
  """The module's card as HTML ('' without a config): links to modules
  this hub serves point to their pages here."""
  if item.module is None:
    return ""
  try:
    text = cards.render(item.cfg, item.module)
  except (cards.CardError, cards.template.TemplateError):
    return ""
  # The tfhub.dev metadata comments are data, not prose.
  text = "\n".join(line for line in text.splitlines()
                   if not line.startswith("<!--"))
  md = _markdown()
  tokens = md.parse(text)
  for token in tokens:
    # The page's <h1> is the handle: the card's headings go one level down.
    if token.type in ("heading_open", "heading_close"):
      token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    for child in token.children or ():
      if child.type == "link_open":
        href = child.attrGet("href") or ""
        handle = href.removeprefix(config_lib.HUB_URL)
        if handle != href and handle in served:
          child.attrSet("href", f"/{handle}")
  return md.renderer.render(tokens, md.options, {})


def model_page(item, served, base_url):
  entry = item.entry
  facts = item.facts()
  size = facts["input_size"]
  rows = [("Format", catalog.FORMAT_NAMES.get(item.format, item.format)),
          ("Architecture", facts["architecture"]),
          ("Depth multiplier", facts["multiplier"]),
          ("Input size", f"{size} x {size} pixels" if size else ""),
          ("Kind", facts["kind"]),
          ("Signatures", ", ".join(item.signatures())),
          ("Size", f"{human_size(entry.size)} ({entry.size} bytes)"),
          ("SHA-256", f"<code>{_esc(entry.sha256)}</code>"),
          ("Kaggle", _esc(item.kaggle.handle) if item.kaggle else "")]
  escaped = ("SHA-256", "Kaggle")  # Escaped above already.
  facts_html = "".join(
      f"<dt>{name}</dt><dd>{value if name in escaped else _esc(value)}</dd>"
      for name, value in rows if value)
  if item.query:
    name, value = item.query
    served_as = (f'<p class="muted">Clients ask for it as '
                 f"<code>/{_esc(item.handle)}?{name}={value}</code>.</p>")
  elif item.is_tfjs:
    served_as = (f'<p class="muted">TF.js reads <code>/{_esc(item.handle)}'
                 "/model.json?tfjs-format=file</code> and its weight files."
                 "</p>")
  else:
    served_as = ""
  body = (
      f'<header><p><a href="/">All models</a></p></header>\n<main>\n'
      f"<h1>{_esc(item.handle)}</h1>\n"
      f'<dl class="facts">{facts_html}</dl>\n'
      f'<p><a class="download" href="/{_esc(entry.archive)}" download>'
      f"Download {_esc(os.path.basename(entry.archive))}</a> "
      f"({_esc(human_size(entry.size))})</p>\n{served_as}\n"
      f'<h2 id="usage-heading">Usage</h2>\n'
      f'<pre><code id="usage">{_esc(usage(item, base_url))}</code></pre>\n'
      f'<button type="button" data-copy="usage">Copy</button>\n'
      f'<article class="card">\n{card_html(item, served)}</article>\n'
      "</main>")
  return _page(item.handle, body, _COPY_SCRIPT)


def _shown(name, value):
  """A filter choice as people read it."""
  if name == "format":
    return catalog.FORMAT_NAMES.get(value, value)
  return value.replace("_", " ")


def index_page(items):
  choices = {name: sorted({i.facts()[name] for i in items} - {""},
                          key=lambda v: (len(v), v) if v[:1].isdigit() else
                          (0, v))
             for name, _ in FILTERS}
  fields = "".join(
      f'<label>{label}<select name="{name}"><option value="">Any</option>'
      + "".join(f'<option value="{_esc(v)}">{_esc(_shown(name, v))}'
                "</option>" for v in choices[name])
      + "</select></label>" for name, label in FILTERS)
  fields += ('<label>Handle contains<input name="q" type="search" '
             'autocomplete="off"></label>')
  sections = []
  for publisher in sorted({i.publisher for i in items}):
    lis = []
    for item in (i for i in items if i.publisher == publisher):
      data = "".join(f' data-{k.replace("_", "-")}="{_esc(v)}"'
                     for k, v in item.facts().items())
      description = ", ".join(v for v in (
          catalog.FORMAT_NAMES.get(item.format, item.format),
          item.facts()["kind"],
          f"{item.facts()['input_size']} px" if item.facts()["input_size"]
          else "") if v)
      lis.append(f'<li data-handle="{_esc(item.handle)}"{data}>'
                 f'<a href="/{_esc(item.handle)}">{_esc(item.handle)}</a> '
                 f'<span class="muted">{_esc(description)}</span></li>')
    sections.append(f'<section class="publisher"><h2>{_esc(publisher)}</h2>'
                    f'<ul class="models">{"".join(lis)}</ul></section>')
  body = ('<header><h1>Models</h1></header>\n<main>\n'
          f'<form id="filter" role="search" aria-label="Filter models">'
          f"{fields}</form>\n"
          f'<p id="count" aria-live="polite">{len(items)} models</p>\n'
          + "\n".join(sections) + "\n</main>")
  return _page("Models", body, _FILTER_SCRIPT)


def render_all(items, base_url):
  """{path below the pages directory: HTML text}."""
  served = {i.handle for i in items}
  pages = {INDEX: index_page(items)}
  for item in items:
    pages[f"{item.handle}/{INDEX}"] = model_page(item, served, base_url)
  return pages


def write(items, pages_dir, base_url):
  """Writes the pages into `pages_dir`, replacing it whole: built aside,
  then renamed into place."""
  parent = os.path.dirname(os.path.abspath(pages_dir))
  os.makedirs(parent, exist_ok=True)
  staging = f"{pages_dir}.tmp-{os.getpid()}"
  old = f"{pages_dir}.old-{os.getpid()}"
  shutil.rmtree(staging, ignore_errors=True)
  try:
    for path, text in render_all(items, base_url).items():
      full = os.path.join(staging, path)
      os.makedirs(os.path.dirname(full), exist_ok=True)
      with open(full, "w", encoding="utf-8") as f:
        f.write(text)
    if os.path.exists(pages_dir):
      os.rename(pages_dir, old)
    os.rename(staging, pages_dir)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
  return pages_dir

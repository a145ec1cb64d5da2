#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerates the chat-template goldens in this folder with Python's Jinja2, set up the way
Hugging Face's apply_chat_template sets it up (ImmutableSandboxedEnvironment, trim_blocks and
lstrip_blocks on, loop controls, tojson as json.dumps(ensure_ascii=False), raise_exception,
strftime_now), so the C++ renderer can be compared with it byte for byte.

  python3 src/chat/testdata/make_goldens.py [FIXTURES_DIR]

FIXTURES_DIR defaults to ../shared/fixtures (from the repository root). Needs jinja2 >= 3.1
(Debian: apt-get install python3-jinja2). Writes:
  template_renders.jsonl  the DeepSeek-V3 and Gemma 3 templates over the contexts of
                          renders.golden.jsonl plus a few of their own
  jinja_features.jsonl    small templates exercising one Jinja feature each
"""
import json
import os
import re
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.exceptions import TemplateError
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
FIXED_NOW = datetime(2024, 7, 26, 10, 30, 0)  # chat_template_test.cpp pins the same time


class GenerationBlock(Extension):
    """{% generation %}...{% endgeneration %}: Hugging Face marks assistant text with it."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def make_environment():
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationBlock, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_environment()


def render(source, context):
    """(rendered, error message, error type) for one template and context."""
    try:
        return ENV.from_string(source).render(**context), None, None
    except Exception as error:  # the goldens record what Jinja2 raised
        return None, str(error), type(error).__name__


def token_text(token):
    return token["content"] if isinstance(token, dict) else token


def template_renders(fixtures):
    chat = os.path.join(fixtures, "chat")
    shared = [json.loads(line) for line in open(os.path.join(chat, "renders.golden.jsonl"))]
    contexts = {}
    for case in shared:  # one context per case name, whatever template it was used with
        contexts.setdefault(case["case"], case["context"])
    extra = {
        "system_parts": {"messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " What is this? "}]}],
            "add_generation_prompt": True},
        "bad_alternation": {"messages": [
            {"role": "user", "content": "one"}, {"role": "user", "content": "two"}],
            "add_generation_prompt": True},
        "tool_calls_null_content": {"messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
            {"role": "tool", "content": "18C"},
            {"role": "tool", "content": "25C"},
            {"role": "assistant", "content": "Paris 18C, Rome 25C."}],
            "add_generation_prompt": True},
        "two_systems": {"messages": [
            {"role": "system", "content": "First."}, {"role": "system", "content": "Second."},
            {"role": "user", "content": "Hi"}], "add_generation_prompt": False},
    }
    lines = []
    for name in ("deepseek_v3", "gemma3"):
        config = json.load(open(os.path.join(chat, "templates", name + ".tokenizer_config.json")))
        tokens = {key: token_text(config[key]) for key in ("bos_token", "eos_token") if config.get(key)}
        for case_name, context in list(contexts.items()) + list(extra.items()):
            context = dict(context, **tokens)
            rendered, error, error_type = render(config["chat_template"], context)
            lines.append({"template": name, "case": case_name, "context": context,
                          "rendered": rendered, "error": error, "error_type": error_type})
    return lines


# Context every feature case sees (a case may add its own entries).
BASE = {
    "name": "Ana",
    "nums": [3, 1, 2],
    "words": ["b", "A", "a", "C"],
    "d": {"b": 2, "a": 1},
    "people": [{"name": "Bo", "age": 30, "admin": True},
               {"name": "al", "age": 25, "admin": False},
               {"name": "Cy", "age": 41}],
    "text": "  Hello World  ",
    "zh": "你好，世界🚀",
    "empty": [],
    "nothing": None,
    "pi": 3.14159,
    "msgs": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
             {"role": "assistant", "content": "yo"}],
}

FEATURES = [
    # --- whitespace control ---
    ("ws_trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter\n", {}),
    ("ws_lstrip_blocks", "x\n    {% if true %}\n    in\n    {% endif %}\ny", {}),
    ("ws_lstrip_not_midline", "x  {% if true %}y{% endif %}", {}),
    ("ws_lstrip_after_variable", "{{ 'a' }}  {% if true %}b{% endif %}", {}),
    ("ws_lstrip_template_start", "   {% if true %}a{% endif %}", {}),
    ("ws_variable_not_lstripped", "x\n   {{ 'v' }}\n   {{ 'w' }}\n", {}),
    ("ws_minus_both", "a  \n {%- if true -%} \n b \n {%- endif -%}  \n c", {}),
    ("ws_minus_variable", "a \n {{- 'x' -}} \n b", {}),
    ("ws_plus_disables_lstrip", "x\n    {%+ if true %}y{% endif %}", {}),
    ("ws_plus_disables_trim", "{% if true +%}\ny{% endif %}", {}),
    ("ws_comment", "a {# note #} b\n  {# own line #}\nc", {}),
    ("ws_comment_minus", "a  {#- note -#}  b", {}),
    ("ws_raw", "{% raw %}{{ not }} {% evaluated %}{% endraw %}", {}),
    ("ws_raw_minus", "a {%- raw -%}  {{ x }}  {%- endraw -%} b", {}),
    ("ws_raw_trim", "{% raw %}\nkeep\n{% endraw %}\nnext", {}),
    ("ws_trailing_newline", "hello\n", {}),
    ("ws_two_trailing_newlines", "hello\n\n", {}),
    ("ws_crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("ws_loop_lines", "{% for i in range(3) %}\n  - {{ i }}\n{% endfor %}\n", {}),
    ("ws_nested_indent", "{% for m in msgs %}\n    {% if m.role == 'user' %}\n        U:{{ m.content }}\n    {% else %}\n        O:{{ m.content }}\n    {% endif %}\n{% endfor %}", {}),
    ("ws_tabs", "\t{% if true %}\n\tx\n\t{% endif %}\n", {}),
    ("ws_minus_unicode_space", "a\u3000{%- if true %}b{% endif %}", {}),
    # --- loops ---
    ("loop_vars", "{% for x in nums %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", {}),
    ("loop_prev_next", "{% for x in nums %}[{{ loop.previtem }}|{{ loop.nextitem }}]{% endfor %}", {}),
    ("loop_cycle", "{% for x in nums %}{{ loop.cycle('odd', 'even') }} {% endfor %}", {}),
    ("loop_changed", "{% for x in [1, 1, 2, 2, 1] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}", {}),
    ("loop_else", "{% for x in empty %}{{ x }}{% else %}none{% endfor %}", {}),
    ("loop_else_undefined", "{% for x in missing %}{{ x }}{% else %}none{% endfor %}", {}),
    ("loop_filter", "{% for x in nums if x > 1 %}{{ loop.index }}/{{ loop.length }}:{{ x }} {% endfor %}", {}),
    ("loop_filter_all_out", "{% for x in nums if x > 5 %}{{ x }}{% else %}else{% endfor %}", {}),
    ("loop_break", "{% for x in nums %}{% if x == 1 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("loop_continue", "{% for x in nums %}{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% endfor %}", {}),
    ("loop_nested_outer", "{% for a in [1, 2] %}{% set outer = loop %}{% for b in 'xy' %}{{ outer.index }}{{ loop.index }}{{ b }} {% endfor %}{% endfor %}", {}),
    ("loop_dict_keys", "{% for k in d %}{{ k }}{% endfor %}", {}),
    ("loop_dict_items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {}),
    ("loop_items_filter", "{% for k, v in d|items %}{{ k }}={{ v }};{% endfor %}", {}),
    ("loop_string", "{% for c in zh %}[{{ c }}]{% endfor %}", {}),
    ("loop_tuple_iterable", "{% for x in 1, 2 %}{{ x }}{% endfor %}", {}),
    ("loop_unpack_paren", "{% for (a, b) in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}", {}),
    ("loop_scope_iteration", "{% for i in range(3) %}{% if i == 0 %}{% set x = 5 %}{% endif %}[{{ x }}]{% endfor %}", {}),
    ("loop_scope_outer", "{% set x = 1 %}{% for i in range(3) %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}", {}),
    ("loop_reversed_slice", "{% for m in msgs[::-1] %}{{ m.role }}{{ loop.index0 }} {% endfor %}", {}),
    ("loop_over_filtered", "{% for p in people|selectattr('admin', 'defined')|rejectattr('admin') %}{{ p.name }}{% endfor %}", {}),
    # --- set, namespace, with ---
    ("set_simple", "{% set x = 'a' ~ 1 %}{{ x }}", {}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}", {}),
    ("set_block", "{% set x %}inner {{ name }}{% endset %}[{{ x }}]", {}),
    ("set_block_filter", "{% set x | upper | trim %}  inner {{ name }}  {% endset %}[{{ x }}]", {}),
    ("set_in_if_leaks", "{% if true %}{% set x = 'y' %}{% endif %}{{ x }}", {}),
    ("namespace_loop", "{% set ns = namespace(count=0, last=none) %}{% for x in nums %}{% set ns.count = ns.count + x %}{% set ns.last = x %}{% endfor %}{{ ns.count }} {{ ns.last }}", {}),
    ("namespace_from_dict", "{% set ns = namespace(d, c=3) %}{{ ns.a }}{{ ns.b }}{{ ns.c }}{{ ns['a'] }}", {}),
    ("namespace_new_attr", "{% set ns = namespace() %}{% set ns.z = 'zz' %}{{ ns.z }}", {}),
    ("with_block", "{% with a = 1, b = 'two' %}{{ a }}{{ b }}{% endwith %}[{{ a }}]", {}),
    ("generation_block", "{% for m in msgs %}{% generation %}{{ m.content }}{% endgeneration %}{% endfor %}", {}),
    ("filter_block", "{% filter upper %}hello {{ name }}{% endfilter %}", {}),
    ("set_in_loop_no_leak", "{% for i in nums %}{% set last = i %}{% endfor %}[{{ last }}]", {}),
    # --- frames: a name a frame assigns (without reading it first) is undefined in nested
    # frames until the assignment, even when the context has it ---
    ("frame_later_top_level_set", "{% for i in [1] %}[{{ b }}]{% endfor %}{% set b = 2 %}{{ b }}", {"b": 1}),
    ("frame_read_first_keeps_context", "{{ b }}{% for i in [1] %}[{{ b }}]{% endfor %}{% set b = 2 %}", {"b": 1}),
    ("frame_conditional_set", "{% for i in [1] %}[{{ b }}]{% endfor %}{% if x %}{% set b = 2 %}{% else %}{% set b = 3 %}{% endif %}", {"b": 1}),
    ("frame_macro_before_set", "{% macro m() %}[{{ b }}]{% endmacro %}{{ m() }}{% set b = 2 %}{{ m() }}", {"b": 1}),
    ("frame_nested_loops", "{% for i in [1] %}{% for j in [1] %}[{{ b }}]{% endfor %}{% set b = 7 %}{{ b }}{% endfor %}", {"b": 1}),
    ("frame_set_block_target", "{% set b %}[{{ b }}]{% endset %}{{ b }}", {"b": 1}),
    ("frame_set_block_no_leak", "{% set b %}{% set a = 'in' %}x{% endset %}{{ a }}|{{ b }}", {"a": "out"}),
    ("frame_with_alias", "{% with a = 1 %}{% for i in [1] %}[{{ b }}]{% endfor %}{% set b = 5 %}{{ b }}{% endwith %}{{ b }}", {"b": 1}),
    ("frame_for_else_scope", "{% for i in [] %}{% else %}{% set z = 1 %}{{ z }}{% endfor %}[{{ z }}]", {}),
    ("frame_macro_defined_later", "{% for i in [1] %}{{ m() }}{% endfor %}{% macro m() %}x{% endmacro %}", {}),
    ("frame_loop_reads_later_set", "{% for i in [1, 2] %}{% if i == 2 %}[{{ q }}]{% endif %}{% set q = i %}{% endfor %}", {"q": 0}),
    ("frame_call_block", "{% macro k() %}{{ caller(1) }}{% endmacro %}{% call(x) k() %}[{{ b }}]{% set b = 3 %}{{ b }}{% endcall %}{% set b = 2 %}", {"b": 1}),
    ("frame_filter_block", "{% filter upper %}[{{ b }}]{% endfilter %}{% set b = 'x' %}{{ b }}", {"b": "c"}),
    # --- macros ---
    ("macro_defaults", "{% macro greet(who, greeting='Hi') %}{{ greeting }}, {{ who }}!{% endmacro %}{{ greet(name) }} {{ greet('Bo', greeting='Yo') }} {{ greet(who='Cy') }}", {}),
    ("macro_missing_arg", "{% macro m(a, b) %}[{{ a }}|{{ b }}|{{ b is defined }}]{% endmacro %}{{ m(1) }}", {}),
    ("macro_varargs_kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}", {}),
    ("macro_caller", "{% macro box(title) %}[{{ title }}: {{ caller() }}]{% endmacro %}{% call box('t') %}body {{ name }}{% endcall %}", {}),
    ("macro_caller_args", "{% macro each(xs) %}{% for x in xs %}{{ caller(x, loop.index) }}{% endfor %}{% endmacro %}{% call(x, i) each(nums) %}{{ i }}={{ x }} {% endcall %}", {}),
    ("macro_recursive", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("macro_late_global", "{% macro m() %}{{ y }}{% endmacro %}{% set y = 3 %}{{ m() }}", {}),
    ("macro_whitespace", "{% macro render_tool(t) %}\n  tool: {{ t }}\n{% endmacro %}\n{{ render_tool('a') }}{{ render_tool('b') }}", {}),
    ("macro_default_uses_param", "{% macro m(a, b=a * 2) %}{{ a }},{{ b }}{% endmacro %}{{ m(4) }}", {}),
    # --- expressions ---
    ("arith_int", "{{ 7 + 3 }} {{ 7 - 10 }} {{ 6 * 7 }} {{ 7 / 2 }} {{ 8 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}", {}),
    ("arith_float", "{{ 0.1 + 0.2 }} {{ 3.0 * 2 }} {{ 1.5 // 0.4 }} {{ -7.5 % 2 }} {{ 2.0 ** 0.5 }} {{ pi * 2 }}", {}),
    ("arith_precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 - 2 - 3 }} {{ 2 * 3 ~ 4 }}", {}),
    ("arith_bool", "{{ true + 1 }} {{ false * 3 }} {{ true / 2 }}", {}),
    ("float_repr", "{{ 1.0 }} {{ 1e20 }} {{ 1e16 }} {{ 1e15 }} {{ 1.5e-7 }} {{ 0.0001 }} {{ 0.00001 }} {{ -0.0 }} {{ 123.456 }} {{ 1/3 }} {{ 2.5e300 * 1e10 }}", {}),
    ("numbers_literals", "{{ 1_000 }} {{ 0x1f }} {{ 0o17 }} {{ 0b101 }} {{ 1_0.5 }} {{ 2e3 }}", {}),
    ("string_concat", "{{ 'a' + 'b' }} {{ 'a' ~ 1 ~ none ~ true ~ 1.0 }} {{ '-' * 3 }} {{ 2 * 'ab' }} {{ [1] + [2, 3] }} {{ [0] * 3 }}", {}),
    ("string_escapes", "{{ 'tab\\there' }}|{{ \"q\\\"uote\" }}|{{ 'it\\'s' }}|{{ '\\u00e9\\x41\\\\' }}|{{ 'line\\nbreak' }}|{{ '\\101' }}|{{ 'keep\\d' }}", {}),
    ("string_adjacent", "{{ 'a' 'b' \"c\" }}", {}),
    ("compare", "{{ 1 < 2 }} {{ 2 <= 1 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 1 != 2 }} {{ [1, 2] == [1, 2] }} {{ d == {'a': 1, 'b': 2} }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ true == 1 }} {{ none == none }}", {}),
    ("membership", "{{ 'ell' in 'hello' }} {{ 2 in nums }} {{ 'a' in d }} {{ 'z' not in d }} {{ 5 not in nums }} {{ 'x' in missing }}", {}),
    ("logic_values", "[{{ '' or 'x' }}] [{{ 'a' and 'b' }}] [{{ none or 0 }}] [{{ 0 and 1 }}] [{{ not 1 == 2 }}] [{{ not nothing }}]", {}),
    ("ternary", "{{ 'y' if nums else 'n' }} {{ 'y' if empty else 'n' }} [{{ 'y' if false }}] {{ 1 if false else 2 if true else 3 }}", {}),
    ("filter_precedence", "{{ nums|length - 1 }} {{ -1|abs }} {{ 'a' ~ 12|string|length }} {{ 'x' + name|upper }}", {}),
    ("literals_print", "{{ [1, 'a', none, true, 1.5, {'k': 'v'}] }} {{ (1,) }} {{ (1, 'b') }} {{ () }} {{ {'a': [1, {'b': none}]} }} {{ True }} {{ None }}", {}),
    ("repr_quotes", "{{ [\"it's\", 'say \"hi\"', \"both ' \\\"\", 'back\\\\slash', 'nl\\n', '\\x01\\x7f'] }}", {}),
    ("repr_unicode", "{{ [zh, '\u00a0', '\u200b', '\u3000', 'é'] }}", {}),
    ("attribute_item", "{{ d.a }} {{ d['b'] }} {{ nums[0] }} {{ nums[-1] }} {{ nums.1 }} {{ zh[0] }} {{ zh[-1] }} [{{ d.missing }}] [{{ nums[10] }}]", {}),
    ("attribute_method_priority", "{{ x.items is callable }} {{ x['items'] }} {{ x.get('items') }} {{ x.keys()|list }}", {"x": {"items": "value", "other": 1}}),
    ("slices", "{{ nums[1:] }} {{ nums[:-1] }} {{ nums[::2] }} {{ nums[::-1] }} {{ nums[5:10] }} {{ nums[-2:] }} {{ zh[1:3] }} {{ zh[::-1] }} {{ 'abcdef'[4:1:-1] }} {{ 'abcdef'[-100:100] }}", {}),
    ("percent_format", "{{ '%s and %d' % ('a', 3) }}|{{ '%05.2f' % pi }}|{{ '%r' % 'x' }}|{{ '%-5s|' % 'ab' }}|{{ '%s' % [1, 2] }}|{{ '%x %o %%' % (255, 8) }}|{{ '%(a)s-%(b)s' % d }}", {}),
    ("str_format", "{{ '{} {}'.format(1, 'a') }}|{{ '{0}{1}{0}'.format('x', 'y') }}|{{ '{n}!'.format(n=name) }}|{{ '{:>5}'.format('r') }}|{{ '{:.2f}'.format(pi) }}|{{ '{{}}{}'.format(none) }}|{{ '{!r}'.format('q') }}", {}),
    ("python_edge_cases", "{{ 1 // 0.1 }} {{ -7.5 // 2 }} {{ false % -3.0 }} {{ 2.5 is even }} {{ 3.0 is odd }} {{ missing is sequence }} {{ missing is callable }} {{ 0|reject('none')|list }} {{ none|map('string')|list }} {{ '' % [1] }} {{ (1/3)|wordcount }} {{ 'a_b c-d'|wordcount }} {{ (1, 2) in {'k': 1} }}", {}),
    ("error_list_plus_tuple", "{{ [1] + (2,) }}", {}),
    ("error_unhashable", "{{ [1] in {'k': 1} }}", {}),
    ("error_int_of_undefined", "{{ missing|int }}", {}),
    ("error_indent_list", "{{ [1]|indent }}", {}),
    # --- filters ---
    ("tojson_basic", "{{ d|tojson }} {{ people|tojson }} {{ zh|tojson }} {{ nothing|tojson }} {{ [1.0, 2.5, 1e20, -0.0]|tojson }}", {}),
    ("tojson_indent", "{{ {'a': [1, {}, [], {'b': 'é'}], 'c': none}|tojson(indent=2) }}", {}),
    ("tojson_indent4_tools", "{{ tools|tojson(indent=4) }}", {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"q": {"type": "string", "enum": ["a", "b"]}}, "required": ["q"]}}}]}),
    ("tojson_escapes", "{{ s|tojson }}", {"s": "quote\" back\\ nl\n tab\t cr\r bell\x07 del\x7f emoji🚀 é"}),
    ("tojson_options", "{{ d|tojson(sort_keys=true) }} {{ d|tojson(separators=(',', ':')) }} {{ zh|tojson(ensure_ascii=true) }} {{ d|tojson(indent='\t') }} {{ [1]|tojson(indent=0) }}", {}),
    ("tojson_nested_empty", "{{ {'a': {}, 'b': [], 'c': [[]]}|tojson }} {{ {}|tojson(indent=2) }}", {}),
    ("trim", "[{{ text|trim }}] [{{ '..x..'|trim('.') }}] [{{ '\u3000x\u00a0'|trim }}]", {}),
    ("length", "{{ nums|length }} {{ zh|length }} {{ d|length }} {{ missing|length }} {{ nums|count }}", {}),
    ("case_filters", "{{ 'hELLo wORLD'|lower }} {{ 'hello'|upper }} {{ 'hELLO world'|capitalize }} {{ \"they're bill's-friend (x)\"|title }} {{ 'éa'|upper }}", {}),
    ("replace_filter", "{{ 'aaa'|replace('a', 'b') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'ab'|replace('', '-') }}", {}),
    ("join_filter", "{{ nums|join(', ') }} {{ people|join('/', attribute='name') }} {{ nums|join }}", {}),
    ("first_last", "{{ nums|first }} {{ nums|last }} [{{ empty|first }}] {{ 'abc'|first }}", {}),
    ("map_filter", "{{ people|map(attribute='name')|list }} {{ words|map('upper')|join }} {{ people|map(attribute='admin', default='?')|list }} {{ ['1', '2']|map('int')|sum }}", {}),
    ("select_reject", "{{ nums|select('odd')|list }} {{ nums|reject('odd')|list }} {{ [0, 1, '', 'a', none]|select|list }} {{ nums|select('greaterthan', 1)|list }} {{ nums|select('in', [1, 3])|list }}", {}),
    ("selectattr", "{{ people|selectattr('admin')|map(attribute='name')|join }} {{ people|selectattr('age', 'gt', 28)|map(attribute='name')|join }} {{ people|rejectattr('admin')|map(attribute='name')|join }} {{ people|selectattr('admin', 'defined')|list|length }} {{ msgs|selectattr('role', 'equalto', 'user')|list|length }}", {}),
    ("default_filter", "{{ missing|default('dflt') }} {{ nothing|default('x') }} {{ ''|default('e', true) }} {{ ''|d('e') }} {{ 0|default(5, boolean=true) }} [{{ missing|default }}]", {}),
    ("string_filter", "{{ 12|string }} {{ nothing|string }} {{ nums|string }} {{ 1.0|string }}", {}),
    ("int_float_filters", "{{ '42'|int }} {{ ' 7 '|int }} {{ '3.7'|int }} {{ 'x'|int }} {{ 'x'|int(-1) }} {{ 3.9|int }} {{ nothing|int }} {{ '1.5'|float }} {{ 2|float }} {{ 'y'|float }} {{ true|int }} {{ 'ff'|int(base=16) }}", {}),
    ("list_unique", "{{ 'abc'|list }} {{ d|list }} {{ words|unique|list }} {{ words|unique(case_sensitive=true)|list }} {{ people|unique(attribute='admin')|map(attribute='name')|list }}", {}),
    ("abs_round", "{{ -3|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }} {{ 7|round }} {{ 1234.5|round(-2) }} {{ pi|round(3) }}", {}),
    ("indent_filter", "[{{ 'a\\nb\\n\\nc'|indent }}] [{{ 'a\\nb'|indent(2, true) }}] [{{ 'a\\n\\nb'|indent(2, blank=true) }}] [{{ 'a\\nb'|indent('> ') }}]", {}),
    ("batch_filter", "{{ nums|batch(2)|list }} {{ [1, 2, 3]|batch(2, 'x')|list }}", {}),
    ("dictsort_sort", "{{ d|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value') }} {{ d|dictsort(reverse=true) }} {{ words|sort }} {{ words|sort(case_sensitive=true) }} {{ nums|sort(reverse=true) }} {{ people|sort(attribute='age')|map(attribute='name')|join }}", {}),
    ("sum_min_max", "{{ nums|sum }} {{ people|sum(attribute='age') }} {{ nums|sum(start=10) }} {{ nums|min }} {{ nums|max }} {{ words|min }} {{ words|max }} {{ people|max(attribute='age')|attr('name') }}", {}),
    ("misc_filters", "{{ nums|reverse|list }} {{ 'abc'|reverse }} {{ 'a b  c'|wordcount }} [{{ 'x'|center(5) }}] {{ '%s=%s'|format('a', 1) }} {{ '<a href=\"x\">&</a>'|e }} {{ '<b>'|safe }} {{ d|attr('a') }}", {}),
    ("filter_on_undefined", "[{{ missing|upper }}] [{{ missing|trim }}] [{{ missing|list }}] [{{ missing|join(',') }}] [{{ missing|items|list }}] [{{ missing|string }}]", {}),
    # --- tests ---
    ("tests_types", "{{ 'a' is string }} {{ 1 is string }} {{ d is mapping }} {{ nums is mapping }} {{ nums is sequence }} {{ 'a' is sequence }} {{ d is sequence }} {{ 1 is iterable }} {{ missing is iterable }} {{ 'x' is iterable }}", {}),
    ("tests_numbers", "{{ 1 is number }} {{ 1.5 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ 1 is float }} {{ true is boolean }} {{ 1 is boolean }}", {}),
    ("tests_values", "{{ nothing is none }} {{ missing is none }} {{ missing is defined }} {{ missing is undefined }} {{ name is defined }} {{ true is true }} {{ 1 is true }} {{ false is false }} {{ 0 is false }}", {}),
    ("tests_args", "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 2 is eq 2 }} {{ 'a' is equalto 'a' }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 3 is gt 2 }} {{ 2 is ge 2 }} {{ 2 is le 1 }} {{ 2 is in nums }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 'upper' is filter }} {{ 'odd' is test }}", {}),
    ("tests_not", "{{ nothing is not none }} {{ name is not defined }} {{ not missing is defined }} {{ 'x' is not string }}", {}),
    ("tests_callable", "{{ range is callable }} {{ 'a'.upper is callable }} {{ name is callable }} {{ 1 is sameas 1 }} {{ none is sameas none }}", {}),
    # --- methods ---
    ("str_methods_affix", "{{ 'hello'.startswith('he') }} {{ 'hello'.endswith(('x', 'lo')) }} {{ 'hello'.startswith('l', 2) }} {{ 'a.txt'.removesuffix('.txt') }} {{ 'pre_x'.removeprefix('pre_') }}", {}),
    ("str_methods_strip", "[{{ text.strip() }}] [{{ text.lstrip() }}] [{{ text.rstrip() }}] [{{ 'xxhixx'.strip('x') }}] [{{ '\\n\\nhi\\n'.lstrip('\\n') }}] [{{ 'abcba'.rstrip('ab') }}]", {}),
    ("str_methods_split", "{{ 'a,b,,c'.split(',') }} {{ '  a  b c '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ ' a b c '.rsplit(None, 1) }} {{ 'x</think>y</think>z'.split('</think>')[-1] }} {{ 'l1\\nl2\\r\\nl3'.splitlines() }}", {}),
    ("str_methods_case", "{{ 'hello world'.title() }} {{ \"they're\".title() }} {{ 'hELLO'.capitalize() }} {{ 'MiXed'.upper() }} {{ 'MiXed'.lower() }}", {}),
    ("str_methods_misc", "{{ 'a-b-c'.replace('-', '+') }} {{ 'a-b-c'.replace('-', '+', 1) }} {{ ', '.join(words) }} {{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ zh.find('世') }} {{ 'banana'.count('a') }} {{ '123'.isdigit() }} {{ 'ab1'.isalpha() }} {{ 'ab1'.isalnum() }} {{ ' '.isspace() }} {{ 'AB'.isupper() }} {{ 'ab'.islower() }} [{{ 'x'.center(4, '*') }}] [{{ 'x'.ljust(3) }}] [{{ 'x'.rjust(3) }}]", {}),
    ("dict_methods", "{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 0) }}", {}),
    ("list_methods", "{{ nums.index(1) }} {{ [1, 1, 2].count(1) }}", {}),
    # --- globals ---
    ("range_global", "{{ range(3)|list }} {{ range(1, 4)|list }} {{ range(10, 0, -3)|list }} {{ range(0)|list }}", {}),
    ("dict_global", "{{ dict(a=1, b='x') }} {{ dict(d, c=3) }} {{ dict([['k', 'v']]) }}", {}),
    ("strftime_now", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%A %B %-d') }}", {}),
    # --- realistic template fragments ---
    ("hf_tools_block", "{%- if tools %}\n    {{- '<|tools|>\\n' }}\n    {%- for tool in tools %}\n        {{- tool | tojson }}\n        {{- '\\n' if not loop.last }}\n    {%- endfor %}\n{%- endif %}\n{%- for m in msgs %}\n    {{- '<|' + m.role + '|>' + m.content + '\\n' }}\n{%- endfor %}", {"tools": [{"name": "f", "args": {"x": 1}}, {"name": "g"}]}),
    ("hf_content_parts", "{%- for m in msgs2 %}\n{%- if m.content is string %}{{ m.content }}{% else %}{% for p in m.content if p.type == 'text' %}{{ p.text }}{% endfor %}{% endif %}\n{% endfor %}", {"msgs2": [{"content": "plain"}, {"content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]}]}),
    ("hf_system_split", "{%- if msgs[0]['role'] == 'system' %}{%- set sys = msgs[0]['content'] %}{%- set rest = msgs[1:] %}{%- else %}{%- set sys = '' %}{%- set rest = msgs %}{%- endif %}[{{ sys }}]{% for m in rest %}{{ m['role'][0]|upper }}{% endfor %}", {}),
    ("hf_date_string", "{%- if not date_string is defined %}{%- set date_string = strftime_now('%d %b %Y') %}{%- endif %}Today Date: {{ date_string }}", {}),
    ("hf_json_arguments", "{%- for call in calls %}{{ call.name }}({% if call.arguments is string %}{{ call.arguments }}{% else %}{{ call.arguments|tojson }}{% endif %}){% endfor %}", {"calls": [{"name": "a", "arguments": "{\"x\": 1}"}, {"name": "b", "arguments": {"y": [1, 2], "z": "é"}}]}),
    # --- errors ---
    ("error_raise", "{% if true %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}", {}),
    ("error_undefined_attribute", "{{ missing.attr }}", {}),
    ("error_none_attribute_chain", "[{{ nothing.x }}]{{ nothing.x.y }}", {}),
    ("error_list_method", "{{ nums.startswith('x') }}", {}),
    ("error_missing_element", "{{ empty[0].role }}", {}),
    ("error_concat_int", "{{ 'a' + 1 }}", {}),
    ("error_add_str", "{{ 1 + 'a' }}", {}),
    ("error_unsafe_append", "{{ nums.append(4) }}", {}),
    ("error_division", "{{ 1 / 0 }}", {}),
    ("error_undefined_arith", "{{ missing + 1 }}", {}),
    ("error_tojson_undefined", "{{ missing|tojson }}", {}),
    ("error_namespace_assign", "{% set x = {} %}{% set x.y = 1 %}", {}),
    ("error_range_too_big", "{{ range(200000)|length }}", {}),
    ("error_in_string", "{{ 1 in 'abc' }}", {}),
    ("error_not_iterable", "{% for x in 5 %}{% endfor %}", {}),
    ("error_unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("error_call_string", "{{ name() }}", {}),
    ("error_syntax_unclosed", "{% if true %}open", {}),
    ("error_syntax_bad_expr", "{{ 1 + }}", {}),
    ("error_unknown_filter", "{{ 1|nosuchfilter }}", {}),
]


def feature_lines():
    lines = []
    for case_name, source, extra in FEATURES:
        # Only the entries of BASE the template names, to keep the file small.
        used = {key: value for key, value in BASE.items() if re.search(rf"\b{key}\b", source)}
        context = dict(used, **extra)
        rendered, error, error_type = render(source, context)
        lines.append({"case": case_name, "source": source, "context": context,
                      "rendered": rendered, "error": error, "error_type": error_type})
    return lines


def write_jsonl(path, lines):
    with open(path, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"wrote {len(lines)} cases to {os.path.relpath(path)}")


def main():
    fixtures = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../../shared/fixtures")
    print(f"jinja2 {jinja2.__version__}")
    write_jsonl(os.path.join(HERE, "template_renders.jsonl"), template_renders(fixtures))
    write_jsonl(os.path.join(HERE, "jinja_features.jsonl"), feature_lines())


if __name__ == "__main__":
    main()

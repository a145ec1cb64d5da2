// SPDX-License-Identifier: MIT
// Unit tests of the Jinja interpreter: whitespace control, loops, macros, namespaces, filters,
// Python-style printing, tojson, errors with their positions, and the ChatTemplate API.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "chat/chat_template.h"

namespace moefit {
namespace {

using Json = nlohmann::ordered_json;

std::string Render(std::string_view source, const std::string& context_json = "{}") {
  return ChatTemplate(source).Render(Json::parse(context_json));
}

// The error a render (or parse) throws; fails the test when none is thrown.
ChatTemplateError RenderError(std::string_view source, const std::string& context_json = "{}") {
  try {
    const std::string rendered = Render(source, context_json);
    ADD_FAILURE() << "expected an error, rendered: " << rendered;
  } catch (const ChatTemplateError& error) {
    return error;
  }
  return ChatTemplateError({}, "none", false);
}

// ---- whitespace control ----

TEST(JinjaWhitespace, TrimBlocksDropsTheNewlineAfterABlockTag) {
  EXPECT_EQ(Render("{% if true %}\nyes\n{% endif %}\nafter"), "yes\nafter");
}

TEST(JinjaWhitespace, LstripBlocksDropsIndentBeforeABlockTag) {
  EXPECT_EQ(Render("a\n    {% if true %}\n    b\n    {% endif %}\nc"), "a\n    b\nc");
  EXPECT_EQ(Render("a  {% if true %}b{% endif %}"), "a  b");  // not alone on its line
  EXPECT_EQ(Render("a\n    {{ 'v' }}"), "a\n    v");          // variables are not stripped
}

TEST(JinjaWhitespace, MinusMarkersStripAllWhitespaceOnTheirSide) {
  EXPECT_EQ(Render("a  \n {%- if true -%} \n b \n {%- endif -%}  \n c"), "abc");
  EXPECT_EQ(Render("a \n {{- 'x' -}} \n b"), "axb");
  EXPECT_EQ(Render("a \n {{- 'x' }} \n b"), "ax \n b");
}

TEST(JinjaWhitespace, PlusMarkersKeepWhitespace) {
  EXPECT_EQ(Render("a\n    {%+ if true %}b{% endif %}"), "a\n    b");
  EXPECT_EQ(Render("{% if true +%}\nb{% endif %}"), "\nb");
}

TEST(JinjaWhitespace, CommentsAndRaw) {
  EXPECT_EQ(Render("a {# note #} b\n  {# own line #}\nc"), "a  b\nc");
  EXPECT_EQ(Render("{% raw %}{{ x }}{% if %}{% endraw %}"), "{{ x }}{% if %}");
  EXPECT_EQ(Render("a {%- raw -%}  {{ x }}  {%- endraw -%} b"), "a{{ x }}b");
}

TEST(JinjaWhitespace, OneTrailingNewlineIsDroppedAndCrLfIsNormalised) {
  EXPECT_EQ(Render("hello\n"), "hello");
  EXPECT_EQ(Render("hello\n\n"), "hello\n");
  EXPECT_EQ(Render("a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc"), "a\nb\nc");
}

// ---- loops ----

TEST(JinjaLoop, LoopVariables) {
  EXPECT_EQ(
      Render("{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
             "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }} {% endfor %}"),
      "1032TrueFalse3 2121FalseFalse3 3210FalseTrue3 ");
  EXPECT_EQ(Render("{% for x in [1, 2, 3] %}[{{ loop.previtem }}|{{ loop.nextitem }}]{% endfor %}"),
            "[|2][1|3][2|]");
  EXPECT_EQ(Render("{% for x in range(3) %}{{ loop.cycle('a', 'b') }}{% endfor %}"), "aba");
}

TEST(JinjaLoop, ElseFilterBreakContinue) {
  EXPECT_EQ(Render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(Render("{% for x in nothing %}{{ x }}{% else %}undefined{% endfor %}"), "undefined");
  EXPECT_EQ(Render("{% for x in [3, 1, 2] if x > 1 %}{{ loop.index }}/{{ loop.length }}={{ x }} {% "
                   "endfor %}"),
            "1/2=3 2/2=2 ");
  EXPECT_EQ(Render("{% for x in [1, 2, 3, 4] %}{% if x == 2 %}{% continue %}{% endif %}"
                   "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "13");
}

TEST(JinjaLoop, UnpackingAndDictIteration) {
  EXPECT_EQ(Render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k "
                   "}}{% endfor %}",
                   R"({"d": {"b": 1, "a": 2}})"),
            "b=1;a=2;ba");
}

TEST(JinjaLoop, EachIterationHasItsOwnScope) {
  // As in Jinja2: a set inside the loop is not seen by later iterations or after the loop.
  EXPECT_EQ(
      Render("{% set x = 1 %}{% for i in range(3) %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}"),
      "2221");
  EXPECT_EQ(Render("{% if true %}{% set y = 'leaks' %}{% endif %}{{ y }}"), "leaks");
}

TEST(JinjaLoop, FramesOwnTheNamesTheyAssign) {
  // Jinja2 binds names per frame at compile time: the top level assigns b without reading it
  // first, so the loop (a nested frame) sees b undefined until then, not the context's b.
  EXPECT_EQ(Render("{% for i in [1] %}[{{ b }}]{% endfor %}{% set b = 2 %}{{ b }}", R"({"b": 1})"),
            "[]2");
  EXPECT_EQ(Render("{{ b }}{% for i in [1] %}[{{ b }}]{% endfor %}{% set b = 2 %}", R"({"b": 1})"),
            "1[1]");
  EXPECT_EQ(Render("{% for i in [1] %}[{{ b }}]{% endfor %}{% if x %}{% set b = 2 %}{% endif %}",
                   R"({"b": 1})"),
            "[1]");
  EXPECT_EQ(Render("{% macro m() %}[{{ b }}]{% endmacro %}{{ m() }}{% set b = 2 %}{{ m() }}",
                   R"({"b": 1})"),
            "[][2]");
}

TEST(JinjaLoop, NamespaceCarriesStateOutOfTheLoop) {
  EXPECT_EQ(Render("{% set ns = namespace(total=0, last=none) %}"
                   "{% for x in [1, 2, 3] %}{% set ns.total = ns.total + x %}{% set ns.last = x "
                   "%}{% endfor %}"
                   "{{ ns.total }} {{ ns.last }}"),
            "6 3");
  EXPECT_EQ(Render("{% set ns = namespace(d, c=3) %}{{ ns.a }}{{ ns.c }}", R"({"d": {"a": 1}})"),
            "13");
}

// ---- macros ----

TEST(JinjaMacro, ArgumentsDefaultsAndKeywords) {
  const std::string macro =
      "{% macro greet(who, greeting='Hi') %}{{ greeting }}, {{ who }}!{% endmacro %}";
  EXPECT_EQ(
      Render(macro + "{{ greet('Ana') }} {{ greet('Bo', greeting='Yo') }} {{ greet(who='Cy') }}"),
      "Hi, Ana! Yo, Bo! Hi, Cy!");
  EXPECT_EQ(Render("{% macro m(a, b) %}[{{ a }}|{{ b is defined }}]{% endmacro %}{{ m(1) }}"),
            "[1|False]");
  EXPECT_EQ(Render("{% macro m(a) %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, x=3) }}"),
            "(2,){'x': 3}");
}

TEST(JinjaMacro, CallBlockAndRecursion) {
  EXPECT_EQ(Render("{% macro box(t) %}[{{ t }}: {{ caller() }}]{% endmacro %}{% call box('x') "
                   "%}body{% endcall %}"),
            "[x: body]");
  EXPECT_EQ(Render("{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}"
                   "{% call(x) each([1, 2]) %}<{{ x }}>{% endcall %}"),
            "<1><2>");
  EXPECT_EQ(
      Render(
          "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}"),
      "321");
  EXPECT_NE(std::string(RenderError("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").what())
                .find("recursion"),
            std::string::npos);
}

// ---- expressions and printing ----

TEST(JinjaExpression, PythonArithmeticAndPrinting) {
  EXPECT_EQ(Render("{{ 7 / 2 }} {{ 8 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }}"),
            "3.5 4.0 3 -4 2 1024");
  EXPECT_EQ(Render("{{ 1.0 }} {{ 1e20 }} {{ 1e-5 }} {{ 0.1 + 0.2 }} {{ 1/3 }}"),
            "1.0 1e+20 1e-05 0.30000000000000004 0.3333333333333333");
  EXPECT_EQ(Render("{{ none }} {{ true }} {{ [1, 'a', none, false, {'k': 1.5}] }} {{ (1,) }}"),
            "None True [1, 'a', None, False, {'k': 1.5}] (1,)");
  EXPECT_EQ(Render("{{ [\"it's\", 'say \"hi\"', 'é\\n'] }}"), "[\"it's\", 'say \"hi\"', 'é\\n']");
}

TEST(JinjaExpression, StringsSlicesAndMembership) {
  EXPECT_EQ(Render("{{ 'a' + 'b' ~ 1 ~ none }} {{ '-' * 3 }} {{ 'abc'[::-1] }} {{ 'héllo'[1:3] }}"),
            "ab1None --- cba él");
  EXPECT_EQ(
      Render("{{ [1, 2, 3][1:] }} {{ [1, 2, 3][-1] }} {{ 'ell' in 'hello' }} {{ 4 not in [1] }}"),
      "[2, 3] 3 True True");
  EXPECT_EQ(
      Render("{{ 'y' if x else 'n' }}[{{ 'y' if false }}] {{ '' or 'dflt' }}", R"({"x": [0]})"),
      "y[] dflt");
  EXPECT_EQ(Render("{{ m|length - 1 }} {{ -2|abs }}", R"({"m": [1, 2, 3]})"), "2 2");
}

TEST(JinjaExpression, UndefinedBehavesLikeJinja2Default) {
  EXPECT_EQ(
      Render("[{{ missing }}] {{ missing is defined }} {{ missing|length }} {{ d.nokey is none }}",
             R"({"d": {}})"),
      "[] False 0 False");
  EXPECT_EQ(Render("{{ missing|default('x') }} {{ nothing|default('x') }}", R"({"nothing": null})"),
            "x None");
}

TEST(JinjaExpression, MethodsTemplatesCall) {
  EXPECT_EQ(Render("{{ s.split('</think>')[-1].lstrip('\\n') }}|{{ s.startswith('<think>') }}|{{ "
                   "s.strip('<>') }}",
                   R"({"s": "<think>\nr\n</think>\n\nanswer"})"),
            "answer|True|think>\nr\n</think>\n\nanswer");
  EXPECT_EQ(
      Render(
          "{{ d.get('a') }} {{ d.get('z', 0) }} {{ d.keys()|list }} {{ '{} {x}'.format(1, x=2) }}",
          R"({"d": {"a": 1}})"),
      "1 0 ['a'] 1 2");
}

// ---- filters ----

TEST(JinjaFilter, CommonFilters) {
  const std::string people =
      R"({"p": [{"n": "Bo", "a": true}, {"n": "al", "a": false}, {"n": "Cy"}]})";
  EXPECT_EQ(Render("{{ p|map(attribute='n')|join(', ') }}", people), "Bo, al, Cy");
  EXPECT_EQ(Render("{{ p|selectattr('a')|map(attribute='n')|list }}", people), "['Bo']");
  EXPECT_EQ(Render("{{ p|rejectattr('a', 'defined')|map(attribute='n')|first }}", people), "Cy");
  EXPECT_EQ(Render("{{ [3, 1, 2]|sort|list }} {{ ['b', 'A', 'a']|unique|list }} {{ {'b': 1, 'a': "
                   "2}|dictsort }}"),
            "[1, 2, 3] ['b', 'A'] [('a', 2), ('b', 1)]");
  EXPECT_EQ(Render("[{{ '  x  '|trim }}] {{ 'hELLO wORLD'|capitalize }} {{ 'a-b c'|title }} {{ "
                   "'x'|upper }}"),
            "[x] Hello world A-B C X");
  EXPECT_EQ(Render("{{ '42'|int + 1 }} {{ 'x'|int }} {{ 2.5|round }} {{ 3.5|round }} {{ 2|float }} "
                   "{{ 12|string|length }}"),
            "43 0 2.0 4.0 2.0 2");
  EXPECT_EQ(Render("{{ 'a\\nb'|indent(2, true) }}|{{ [1, 2, 3]|batch(2)|list }}|{{ [1, 2]|sum }}"),
            "  a\n  b|[[1, 2], [3]]|3");
}

TEST(JinjaFilter, TojsonMatchesPythonJsonDumps) {
  const std::string context =
      R"({"v": {"name": "天气", "n": [1, 2.0, null, true], "e": {}, "s": "q\"\n\u0001"}})";
  EXPECT_EQ(Render("{{ v|tojson }}", context),
            R"({"name": "天气", "n": [1, 2.0, null, true], "e": {}, "s": "q\"\n\u0001"})");
  EXPECT_EQ(Render("{{ v.n|tojson(indent=2) }}", context), "[\n  1,\n  2.0,\n  null,\n  true\n]");
  EXPECT_EQ(Render("{{ {'a': {'b': []}}|tojson(indent=4) }}"),
            "{\n    \"a\": {\n        \"b\": []\n    }\n}");
  EXPECT_EQ(Render("{{ v.name|tojson(ensure_ascii=true) }}", context), R"("\u5929\u6c14")");
  EXPECT_EQ(Render("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}"), R"({"a": 2, "b": 1})");
}

// ---- errors ----

TEST(JinjaError, SyntaxErrorsNameLineAndColumn) {
  const ChatTemplateError error = RenderError("line one\n{% if true %}\n  {{ 1 + }}\n{% endif %}");
  EXPECT_EQ(error.line(), 3);
  EXPECT_EQ(error.column(), 10);
  EXPECT_FALSE(error.raised_by_template());
  EXPECT_NE(std::string(error.what()).find("line 3, column 10"), std::string::npos) << error.what();

  const ChatTemplateError unclosed = RenderError("{% for x in y %}\nno end");
  EXPECT_EQ(unclosed.line(), 2);
  EXPECT_NE(unclosed.message().find("'endfor'"), std::string::npos) << unclosed.message();

  EXPECT_EQ(RenderError("ab\n{# never closed").line(), 2);
  EXPECT_EQ(RenderError("{% endif %}").column(), 4);
}

TEST(JinjaError, RuntimeErrorsNameTheExpression) {
  const ChatTemplateError undefined = RenderError("x\n  {{ foo.bar }}");
  EXPECT_EQ(undefined.line(), 2);
  EXPECT_EQ(undefined.column(), 9);  // the ".bar" access
  EXPECT_EQ(undefined.message(), "'foo' is undefined");

  EXPECT_EQ(RenderError("{{ m.content.startswith('x') }}", R"({"m": {"content": [1]}})").message(),
            "'list object' has no attribute 'startswith'");
  EXPECT_EQ(RenderError("{{ 'a' + 1 }}").message(),
            "can only concatenate str (not \"int\") to str");
  EXPECT_EQ(RenderError("{{ [].append(1) }}").message(),
            "access to attribute 'append' of 'list' object is unsafe.");
}

TEST(JinjaError, RaiseExceptionCarriesTheMessage) {
  const ChatTemplateError error = RenderError(
      "{% for m in messages %}\n{% if m.role == 'tool' %}{{ raise_exception('roles must "
      "alternate') }}{% endif %}{% endfor %}",
      R"({"messages": [{"role": "tool"}]})");
  EXPECT_TRUE(error.raised_by_template());
  EXPECT_EQ(error.message(), "roles must alternate");
  EXPECT_EQ(error.line(), 2);
}

TEST(JinjaError, PathologicalNestingFailsCleanly) {
  const std::string deep_brackets =
      "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  EXPECT_NE(RenderError(deep_brackets).message().find("nested too deeply"), std::string::npos);
  std::string deep_blocks;
  for (int i = 0; i < 5000; ++i) deep_blocks += "{% if true %}";
  EXPECT_NE(RenderError(deep_blocks).message().find("nested too deeply"), std::string::npos);
  std::string deep_json = std::string(5000, '[') + std::string(5000, ']');
  EXPECT_THROW(Render("{{ x }}", "{\"x\": " + deep_json + "}"), Error);
}

// ---- API ----

TEST(ChatTemplateApi, ParseOnceRenderManyFromManyThreads) {
  const ChatTemplate chat_template(
      "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt "
      "%}<assistant>{% endif %}");
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string content = std::to_string(t) + "/" + std::to_string(i);
        const Json context = {{"messages", Json::array({{{"role", "user"}, {"content", content}}})},
                              {"add_generation_prompt", i % 2 == 0}};
        const std::string expected = "<user>" + content + (i % 2 == 0 ? "<assistant>" : "");
        if (chat_template.Render(context) != expected) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(ChatTemplateApi, StrftimeNowUsesTheInjectedClock) {
  std::tm time{};
  time.tm_year = 2024 - 1900;
  time.tm_mon = 6;
  time.tm_mday = 26;
  const ChatTemplate chat_template("Today Date: {{ strftime_now('%d %b %Y') }}",
                                   ChatTemplateOptions{.now = [time] { return time; }});
  EXPECT_EQ(chat_template.Render(Json::object()), "Today Date: 26 Jul 2024");
  EXPECT_EQ(Render("{{ strftime_now('%Y')|length }}"), "4");  // the system clock by default
}

TEST(ChatTemplateApi, TemplateFromTokenizerConfig) {
  EXPECT_EQ(ChatTemplateFromConfig(Json::parse(R"({"chat_template": "T"})")), "T");
  const Json named = Json::parse(
      R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "U"}]})");
  EXPECT_EQ(ChatTemplateFromConfig(named), "D");
  EXPECT_EQ(ChatTemplateFromConfig(named, "tool_use"), "U");
  EXPECT_THROW(ChatTemplateFromConfig(Json::parse("{}")), Error);
  EXPECT_THROW(ChatTemplate("x").Render(Json::array()), Error);
}

}  // namespace
}  // namespace moefit

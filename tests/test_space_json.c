/*
 * test_space_json.c -- the JSON form of a space: every distribution
 * parses to the right spec and condition, every malformed input is
 * PZ_ESPACE with its JSON path and line:column, serializing and parsing
 * again gives an equal space, and points rebuild the user's nesting.
 */
#define _POSIX_C_SOURCE 200809L
#include "pz_internal.h"
#include "pz_test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pz_space *parse_ok(const char *text)
{
    pz_space *sp = NULL;
    pz_error e = {0};
    int rc = pz_space_from_json(&sp, text, strlen(text), &e);
    cr_assert_eq(rc, PZ_OK, "%s: %s", pz_status_name(rc), e.msg);
    cr_assert_not_null(sp);
    return sp;
}

/* Index of 'label', asserting it exists. */
static size_t idx(const pz_space *sp, const char *label)
{
    size_t i = 0;
    cr_assert_eq(pz_space_find(sp, label, &i), PZ_OK, "no label '%s'", label);
    return i;
}

static pz_param_spec spec_of(const pz_space *sp, const char *label,
                             const char *parent_label, size_t option)
{
    pz_param_spec s;
    size_t parent, opt;
    cr_assert_eq(pz_space_param(sp, idx(sp, label), &s, &parent, &opt, NULL),
                 PZ_OK);
    if (parent_label == NULL) {
        cr_assert_eq(parent, PZ_NO_PARENT, "'%s' has a parent", label);
    } else {
        cr_assert_eq(parent, idx(sp, parent_label), "parent of '%s'", label);
        cr_assert_eq(opt, option, "option of '%s'", label);
    }
    return s;
}

/* Every distribution, a nested choice, a pchoice with a sub-space, lists,
 * literals and a const. */
static const char every_dist[] =
    "{\n"
    "  \"lr\": {\"hp\": \"loguniform\", \"low\": -9.2, \"high\": -2.3},\n"
    "  \"dropout\": {\"hp\": \"uniform\", \"low\": 0.0, \"high\": 0.5},\n"
    "  \"units\": {\"hp\": \"quniform\", \"low\": 16, \"high\": 256, "
    "\"q\": 16},\n"
    "  \"l2\": {\"hp\": \"qloguniform\", \"low\": -6.9, \"high\": 0, "
    "\"q\": 0.001},\n"
    "  \"bias\": {\"hp\": \"normal\", \"mu\": 0, \"sigma\": 1},\n"
    "  \"shift\": {\"hp\": \"qnormal\", \"mu\": -1, \"sigma\": 4, \"q\": "
    "0.5},\n"
    "  \"scale\": {\"hp\": \"lognormal\", \"mu\": 0.5, \"sigma\": 1},\n"
    "  \"batch\": {\"hp\": \"qlognormal\", \"mu\": 4, \"sigma\": 0.5, "
    "\"q\": 8},\n"
    "  \"seed\": {\"hp\": \"randint\", \"upper\": 1000},\n"
    "  \"layers\": {\"hp\": \"randint\", \"low\": 1, \"high\": 5},\n"
    "  \"epochs\": {\"hp\": \"uniformint\", \"low\": 5, \"high\": 50},\n"
    "  \"opt\": {\"hp\": \"pchoice\", \"label\": \"optimizer\", \"options\": "
    "[[0.7, \"adam\"],\n"
    "     [0.3, {\"name\": \"sgd\", \"momentum\": {\"hp\": \"uniform\", "
    "\"low\": 0, \"high\": 1}}]]},\n"
    "  \"fixed\": {\"hp\": \"const\", \"value\": {\"hp\": 1, \"x\": [1, 2]}},\n"
    "  \"tag\": \"run-1\",\n"
    "  \"model\": {\"hp\": \"choice\", \"options\": [\n"
    "    {\"kind\": \"svm\",\n"
    "     \"C\": {\"hp\": \"loguniform\", \"label\": \"svm_C\", \"low\": -5, "
    "\"high\": 5},\n"
    "     \"kernel\": {\"hp\": \"choice\", \"label\": \"svm_kernel\", "
    "\"options\": [\n"
    "       \"linear\",\n"
    "       {\"name\": \"rbf\", \"gamma\": {\"hp\": \"loguniform\", "
    "\"label\": \"rbf_gamma\", \"low\": -8, \"high\": 1}}\n"
    "     ]}},\n"
    "    {\"kind\": \"knn\", \"k\": {\"hp\": \"randint\", \"label\": "
    "\"knn_k\", \"low\": 1, \"high\": 30}},\n"
    "    {\"kind\": \"tree\", \"depth\": [1, 2, {\"hp\": \"uniformint\", "
    "\"label\": \"tree_depth\", \"low\": 2, \"high\": 12}]},\n"
    "    null\n"
    "  ]}\n"
    "}\n";

/* One formatter for every number parzen writes (JSON and the CLI): the
 * shortest text that reads back exactly, never an exponent where plain
 * digits are as short (the CLI's own copy printed 100 as "1e+02"). */
Test(format_double, shortest_exact_text)
{
    const struct {
        double v;
        const char *text;
    } cases[] = {{100.0, "100"},
                 {1500.0, "1500"},
                 {0.1, "0.1"},
                 {-2.5, "-2.5"},
                 {1e-05, "1e-05"},
                 {2.5e20, "2.5e+20"},
                 {0.1 + 0.2, "0.30000000000000004"},
                 {1.0 / 3.0, "0.3333333333333333"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        pz_format_double(cases[i].v, buf, sizeof buf);
        cr_assert_str_eq(buf, cases[i].text, "case %zu", i);
        cr_assert_eq(strtod(buf, NULL), cases[i].v);
    }
}

Test(space_json, parses_every_distribution)
{
    pz_space *sp = parse_ok(every_dist);
    cr_assert_eq(pz_space_size(sp), 19);
    pz_param_spec s = spec_of(sp, "lr", NULL, 0);
    cr_assert(s.dist == PZ_LOGUNIFORM && s.low == -9.2 && s.high == -2.3);
    s = spec_of(sp, "dropout", NULL, 0);
    cr_assert(s.dist == PZ_UNIFORM && s.low == 0.0 && s.high == 0.5);
    s = spec_of(sp, "units", NULL, 0);
    cr_assert(s.dist == PZ_QUNIFORM && s.low == 16 && s.high == 256 &&
              s.q == 16);
    s = spec_of(sp, "l2", NULL, 0);
    cr_assert(s.dist == PZ_QLOGUNIFORM && s.low == -6.9 && s.high == 0 &&
              s.q == 0.001);
    s = spec_of(sp, "bias", NULL, 0);
    cr_assert(s.dist == PZ_NORMAL && s.mu == 0 && s.sigma == 1);
    s = spec_of(sp, "shift", NULL, 0);
    cr_assert(s.dist == PZ_QNORMAL && s.mu == -1 && s.sigma == 4 && s.q == 0.5);
    s = spec_of(sp, "scale", NULL, 0);
    cr_assert(s.dist == PZ_LOGNORMAL && s.mu == 0.5 && s.sigma == 1);
    s = spec_of(sp, "batch", NULL, 0);
    cr_assert(s.dist == PZ_QLOGNORMAL && s.mu == 4 && s.sigma == 0.5 &&
              s.q == 8);
    s = spec_of(sp, "seed", NULL, 0);
    cr_assert(s.dist == PZ_RANDINT && s.low == 0 && s.high == 1000);
    s = spec_of(sp, "layers", NULL, 0);
    cr_assert(s.dist == PZ_RANDINT && s.low == 1 && s.high == 5);
    s = spec_of(sp, "epochs", NULL, 0);
    cr_assert(s.dist == PZ_UNIFORMINT && s.low == 5 && s.high == 50);
    s = spec_of(sp, "optimizer", NULL, 0);
    cr_assert(s.dist == PZ_PCHOICE && s.n_options == 2);
    cr_assert(s.probs[0] == 0.7 && s.probs[1] == 0.3);
    cr_assert_eq(pz_space_find(sp, "opt", NULL), PZ_ENOTFOUND);
    s = spec_of(sp, "model", NULL, 0);
    cr_assert(s.dist == PZ_CHOICE && s.n_options == 4);
    pz_space_free(sp);
}

Test(space_json, parameters_inside_options_are_conditional)
{
    pz_space *sp = parse_ok(every_dist);
    spec_of(sp, "momentum", "optimizer", 1);
    spec_of(sp, "svm_C", "model", 0);
    spec_of(sp, "svm_kernel", "model", 0);
    spec_of(sp, "rbf_gamma", "svm_kernel", 1);
    spec_of(sp, "knn_k", "model", 1);
    spec_of(sp, "tree_depth", "model", 2);
    /* Parents come before their children. */
    for (size_t i = 0; i < pz_space_size(sp); i++) {
        size_t parent;
        pz_space_param(sp, i, NULL, &parent, NULL, NULL);
        cr_assert(parent == PZ_NO_PARENT || parent < i);
    }
    pz_space_free(sp);
}

Test(space_json, label_defaults_to_the_key_and_an_explicit_label_wins)
{
    pz_space *sp = parse_ok("{\"a\": {\"hp\": \"uniform\", \"low\": 0, "
                            "\"high\": 1},"
                            " \"b\": {\"hp\": \"uniform\", \"label\": \"bee\","
                            " \"low\": 0, \"high\": 1},"
                            " \"list\": [{\"hp\": \"normal\", \"label\": "
                            "\"n0\", \"mu\": 0, \"sigma\": 1}]}");
    cr_assert_eq(pz_space_size(sp), 3);
    cr_assert_eq(pz_space_find(sp, "a", NULL), PZ_OK);
    cr_assert_eq(pz_space_find(sp, "bee", NULL), PZ_OK);
    cr_assert_eq(pz_space_find(sp, "b", NULL), PZ_ENOTFOUND);
    cr_assert_eq(pz_space_find(sp, "n0", NULL), PZ_OK);
    pz_space_free(sp);
}

Test(space_json, empty_object_and_array_are_empty_spaces)
{
    const char *docs[] = {"{}", "[]", " { } \n", "[1, \"a\", {\"b\": null}]"};
    for (size_t i = 0; i < 4; i++) {
        pz_space *sp = parse_ok(docs[i]);
        cr_assert_eq(pz_space_size(sp), 0);
        char *pt = NULL;
        cr_assert_eq(pz_space_point_json(sp, NULL, &pt, NULL), PZ_OK);
        pz_free(pt);
        pz_space_free(sp);
    }
}

/* --------------------------------------------------------------- errors */

typedef struct bad_case {
    const char *text;
    size_t len;           /* 0: strlen(text) */
    const char *frags[3]; /* the message must contain each */
} bad_case;

static void assert_bad(const bad_case *c)
{
    pz_space *sp = (pz_space *)&sp; /* must be reset to NULL */
    pz_error e = {0};
    size_t len = c->len ? c->len : strlen(c->text);
    int rc = pz_space_from_json(&sp, c->text, len, &e);
    cr_assert_eq(rc, PZ_ESPACE, "input %s: rc %s, msg %s", c->text,
                 pz_status_name(rc), e.msg);
    cr_assert_eq(e.code, PZ_ESPACE);
    cr_assert_null(sp, "out-pointer not NULL on failure");
    cr_assert(strchr(e.msg, '\n') == NULL);
    for (size_t k = 0; k < 3 && c->frags[k]; k++) {
        cr_assert(strstr(e.msg, c->frags[k]) != NULL,
                  "input %s: message \"%s\" lacks \"%s\"", c->text, e.msg,
                  c->frags[k]);
    }
    pzt_assert_no_leaks();
}

#define U01 "\"low\": 0, \"high\": 1"

Test(space_json, rejects_unknown_distribution)
{
    bad_case c = {
        "{\"x\": {\"hp\": \"gaussian\", \"mu\": 0, \"sigma\": 1}}",
        0,
        {"$.x (line 1, column 7)", "unknown distribution", "'gaussian'"}};
    assert_bad(&c);
    bad_case num = {"{\"x\": {\"hp\": 3}}", 0, {"$.x.hp", "must be a string"}};
    assert_bad(&num);
}

Test(space_json, rejects_missing_and_extra_keys)
{
    const bad_case cases[] = {
        {"{\"x\": {\"hp\": \"uniform\", \"low\": 0}}",
         0,
         {"$.x", "'high' is required"}},
        {"{\"x\": {\"hp\": \"quniform\", " U01 "}}",
         0,
         {"$.x", "'q' is required"}},
        {"{\"x\": {\"hp\": \"normal\", \"mu\": 0}}",
         0,
         {"$.x", "'sigma' is required"}},
        {"{\"x\": {\"hp\": \"qlognormal\", \"mu\": 0, \"sigma\": 1}}",
         0,
         {"$.x", "'q' is required"}},
        {"{\"x\": {\"hp\": \"randint\"}}", 0, {"$.x", "'low' is required"}},
        {"{\"x\": {\"hp\": \"choice\"}}", 0, {"$.x", "'options' is required"}},
        {"{\"x\": {\"hp\": \"uniform\", " U01 ", \"q\": 1}}",
         0,
         {"$.x", "unknown key 'q'", "expected: low, high, label"}},
        {"{\"x\": {\"hp\": \"normal\", \"mu\": 0, \"sigma\": 1, \"low\": 0}}",
         0,
         {"$.x", "unknown key 'low'"}},
        {"{\"x\": {\"hp\": \"choice\", \"options\": [1], \"p\": [1]}}",
         0,
         {"$.x", "unknown key 'p'"}},
        {"{\"x\": {\"hp\": \"randint\", \"upper\": 3, \"low\": 1}}",
         0,
         {"$.x", "either 'upper' or 'low' and 'high'"}},
        {"{\"x\": {\"hp\": \"const\"}}", 0, {"$.x", "'value'"}},
        {"{\"x\": {\"hp\": \"const\", \"value\": 1, \"label\": \"c\"}}",
         0,
         {"$.x", "'value'"}},
        {"[{\"hp\": \"uniform\", " U01 "}]",
         0,
         {"$[0] (line 1, column 2)", "needs a 'label'"}},
        {"{\"x\": {\"hp\": \"choice\", \"options\": [{\"hp\": \"uniform\", " U01
         "}]}}",
         0,
         {"$.x.options[0]", "needs a 'label'"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_bad(&cases[i]);
    }
}

Test(space_json, rejects_wrong_types)
{
    const bad_case cases[] = {
        {"{\"x\": {\"hp\": \"uniform\", \"low\": \"0\", \"high\": 1}}",
         0,
         {"$.x.low (line 1, column 32)", "expected a number"}},
        {"{\"x\": {\"hp\": \"uniform\", \"low\": 0, \"high\": null}}",
         0,
         {"$.x.high", "expected a number"}},
        {"{\"x\": {\"hp\": \"uniform\", \"low\": true, \"high\": 1}}",
         0,
         {"$.x.low", "expected a number"}},
        {"{\"x\": {\"hp\": \"qnormal\", \"mu\": 0, \"sigma\": 1, \"q\": [1]}}",
         0,
         {"$.x.q", "expected a number"}},
        {"{\"x\": {\"hp\": \"uniform\", \"label\": 7, " U01 "}}",
         0,
         {"$.x.label", "'label' must be a string"}},
        {"{\"x\": {\"hp\": \"choice\", \"options\": {}}}",
         0,
         {"$.x.options", "non-empty array"}},
        {"{\"x\": {\"hp\": \"choice\", \"options\": \"abc\"}}",
         0,
         {"$.x.options", "non-empty array"}},
        {"{\"x\": {\"hp\": \"pchoice\", \"options\": [[0.5, 1], [0.5]]}}",
         0,
         {"$.x.options[1]", "[probability, value]"}},
        {"{\"x\": {\"hp\": \"pchoice\", \"options\": [0.5, 0.5]}}",
         0,
         {"$.x.options[0]", "[probability, value]"}},
        {"{\"x\": {\"hp\": \"pchoice\", \"options\": [[0.5, 1], [\"a\", 2]]}}",
         0,
         {"$.x.options[1][0]", "expected a number"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_bad(&cases[i]);
    }
}

Test(space_json, rejects_invalid_arguments_with_path_and_label)
{
    const bad_case cases[] = {
        {"{\"x\": {\"hp\": \"uniform\", \"low\": 1, \"high\": 1}}",
         0,
         {"$.x (line 1, column 7)", "'x'", "less than high"}},
        {"{\"x\": {\"hp\": \"quniform\", " U01 ", \"q\": 0}}",
         0,
         {"$.x", "'x'", "q must be > 0"}},
        {"{\"x\": {\"hp\": \"normal\", \"mu\": 0, \"sigma\": -1}}",
         0,
         {"$.x", "'x'", "sigma must be > 0"}},
        {"{\"x\": {\"hp\": \"randint\", \"upper\": 0}}",
         0,
         {"$.x", "'x'", "empty"}},
        {"{\"x\": {\"hp\": \"randint\", \"low\": 0.5, \"high\": 3}}",
         0,
         {"$.x", "'x'", "integers"}},
        {"{\"x\": {\"hp\": \"randint\", \"upper\": 1e20}}",
         0,
         {"$.x", "'x'", "integers"}},
        {"{\"x\": {\"hp\": \"choice\", \"options\": []}}",
         0,
         {"$.x.options", "non-empty"}},
        {"{\"x\": {\"hp\": \"pchoice\", \"options\": [[0.5, 1], [0.6, 2]]}}",
         0,
         {"$.x", "'x'", "sum to 1.1"}},
        {"{\"x\": {\"hp\": \"pchoice\", \"options\": [[-0.5, 1], [1.5, 2]]}}",
         0,
         {"$.x", "'x'", ">= 0"}},
        {"{\"x\": {\"hp\": \"uniform\", \"label\": \"\", " U01 "}}",
         0,
         {"$.x", "empty label"}},
        {"{\"\": {\"hp\": \"uniform\", " U01 "}}",
         0,
         {"$[\"\"]", "empty label"}},
        {"{\"odd key\": {\"hp\": \"uniform\", \"low\": 1, \"high\": 0}}",
         0,
         {"$[\"odd key\"] (line 1, column 13)", "'odd key'"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_bad(&cases[i]);
    }
}

Test(space_json, accepts_pchoice_probabilities_off_by_1e_12)
{
    pz_space *sp = parse_ok("{\"p\": {\"hp\": \"pchoice\", \"options\": "
                            "[[0.5, \"a\"], [0.500000000001, \"b\"]]}}");
    pz_space_free(sp);
    sp = parse_ok("{\"p\": {\"hp\": \"pchoice\", \"options\": "
                  "[[0.1, 1], [0.2, 2], [0.7, 3]]}}");
    pz_space_free(sp);
}

Test(space_json, rejects_duplicate_labels_with_the_second_path)
{
    const bad_case cases[] = {
        {"{\"x\": {\"hp\": \"uniform\", " U01 "},\n"
         " \"y\": {\"hp\": \"uniform\", \"label\": \"x\", " U01 "}}",
         0,
         {"$.y (line 2, column 7)", "duplicate label 'x'"}},
        /* across the branches of a choice */
        {"{\"m\": {\"hp\": \"choice\", \"options\": [\n"
         "  {\"C\": {\"hp\": \"uniform\", " U01 "}},\n"
         "  {\"C\": {\"hp\": \"uniform\", " U01 "}}]}}",
         0,
         {"$.m.options[1].C (line 3, column 9)", "duplicate label 'C'"}},
        /* a child reusing its parent's label */
        {"{\"m\": {\"hp\": \"choice\", \"options\": [\n"
         "  {\"x\": {\"hp\": \"uniform\", \"label\": \"m\", " U01 "}}]}}",
         0,
         {"$.m.options[0].x", "duplicate label 'm'"}},
        /* inside a pchoice option */
        {"{\"a\": 1, \"p\": {\"hp\": \"pchoice\", \"options\": [[1.0, {\"a\": "
         "{\"hp\": \"normal\", \"mu\": 0, \"sigma\": 1}, \"b\": {\"hp\": "
         "\"normal\", \"label\": \"p\", \"mu\": 0, \"sigma\": 1}}]]}}",
         0,
         {"$.p.options[0][1].b", "duplicate label 'p'"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_bad(&cases[i]);
    }
}

Test(space_json, errors_give_the_json_path_with_line_and_column)
{
    /* The example of the issue, column for column. */
    const char *text = "{\n"
                       "  \"model\": {\"hp\": \"choice\", \"options\": [\n"
                       "    {\"kind\": \"svm\"},\n"
                       "    {\"C\": {\"hp\": \"normal\", \"mu\": 0, "
                       "\"sigma\": 0}}\n"
                       "  ]}\n"
                       "}\n";
    bad_case c = {text,
                  0,
                  {"$.model.options[1].C (line 4, column 11)",
                   "sigma must be > 0", "'C'"}};
    assert_bad(&c);
    /* The same one level deeper, inside a list, after a multi-byte
     * character (columns count code points). */
    const char *deep = "{\"é\": 1,\n"
                       " \"model\": {\"hp\": \"choice\", \"options\": [0,\n"
                       "   {\"depth\": [1, {\"hp\": \"uniform\", \"label\": "
                       "\"d\", \"low\": 2, \"high\": 1}]}]}}";
    bad_case d = {deep,
                  0,
                  {"$.model.options[1].depth[1] (line 3, column 18)", "'d'",
                   "low (2) must be less than high (1)"}};
    assert_bad(&d);
}

#define BAD_U "{\"hp\": \"uniform\", \"low\": 1, \"high\": 0}"

Test(space_json, errors_locate_keys_written_with_escapes)
{
    /* Keys are compared decoded (as jansson gives them) when locating,
     * and printed escaped in the path so it stays valid and one line. */
    const bad_case cases[] = {
        {"{\"a\": 1,\n \"\\u00e9\": " BAD_U "}",
         0,
         {"$[\"\xC3\xA9\"] (line 2, column 12)"}},
        {"{\"a\\\"b\": " BAD_U "}", 0, {"$[\"a\\\"b\"] (line 1, column 10)"}},
        {"{\"a\": {\"b\\\\c\": " BAD_U "}}",
         0,
         {"$.a[\"b\\\\c\"] (line 1, column 16)"}},
        {"{\"a\": 1, \"\\ud83d\\ude00x\": " BAD_U "}",
         0,
         {"$[\"\xF0\x9F\x98\x80x\"] (line 1, column 27)"}},
        {"{\"\\n\": {\"hp\": \"uniform\", \"label\": \"x\", \"low\": 1, "
         "\"high\": 0}}",
         0,
         {"$[\"\\u000a\"] (line 1, column 8)", "'x'"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_bad(&cases[i]);
    }
}

Test(space_json, rejects_json_that_is_not_strict)
{
    static const char bom[] = "\xEF\xBB\xBF{}";
    static const char bad_utf8[] = "{\"a\": \"\xff\"}";
    static const char overlong[] = "{\"\xC0\xAF\": 1}";
    static const char nul_raw[] = "{\"a\0b\": 1}";
    /* jansson alone would skip these NUL bytes and load the text */
    static const char nul_after_number[] =
        "{\"x\": {\"hp\": \"uniform\", \"low\": 0\0, \"high\": 1}}";
    static const char nul_after_literal[] = "{\"a\": true,\n \"b\": null\0}";
    const bad_case cases[] = {
        {"{\"x\": {\"hp\": \"uniform\", \"low\": NaN, \"high\": 1}}",
         0,
         {"invalid JSON", "line 1", "NaN"}},
        {"{\"x\": {\"hp\": \"uniform\", \"low\": -Infinity, \"high\": 1}}",
         0,
         {"invalid JSON", "line 1"}},
        {"{\"x\": {\"hp\": \"uniform\", \"low\": 0, \"high\": Infinity}}",
         0,
         {"invalid JSON", "Infinity"}},
        {"{\"x\": {\"hp\": \"uniform\", \"low\": 0, \"high\": 1e400}}",
         0,
         {"invalid JSON", "overflow", "1e400"}},
        {"{\"x\": {\"hp\": \"randint\", \"upper\": 9007199254740993}}",
         0,
         {"$.x.upper (line 1, column 34)", "2^53"}},
        {"{\"x\": {\"hp\": \"randint\", \"low\": -9007199254740993, "
         "\"high\": 0}}",
         0,
         {"$.x.low", "2^53"}},
        {"{\"x\": {\"hp\": \"randint\", \"upper\": 99999999999999999999}}",
         0,
         {"invalid JSON", "too big integer"}},
        {"{\"x\": 1, \"x\": 2}", 0, {"invalid JSON", "duplicate", "\"x\""}},
        {"{\"x\": {\"hp\": \"uniform\", \"low\": 0, \"low\": 1, \"high\": 2}}",
         0,
         {"invalid JSON", "duplicate"}},
        {bad_utf8, 0, {"invalid JSON", "0xff"}},
        {overlong, 0, {"invalid JSON"}},
        {bom, 0, {"byte-order mark"}},
        {"{\"x\": {\"hp\": \"choice\", \"label\": \"a\\u0000b\", \"options\": "
         "[1]}}",
         0,
         {"invalid JSON", "\\u0000 (NUL)", "not allowed"}},
        {nul_raw, sizeof nul_raw - 1, {"invalid JSON", "control character"}},
        {nul_after_number,
         sizeof nul_after_number - 1,
         {"line 1, column 33", "NUL byte"}},
        {nul_after_literal,
         sizeof nul_after_literal - 1,
         {"line 2, column 11", "control character 0x0"}},
        {"{\"a\": 1} x", 0, {"invalid JSON", "column 10", "end of file"}},
        {"{\"a\": 1}{}", 0, {"invalid JSON", "end of file"}},
        {"{\"a\": 1,}", 0, {"invalid JSON"}},
        {"{\"a\": 1", 0, {"invalid JSON"}},
        {"{\"a\": [1, 2}", 0, {"invalid JSON"}},
        {"{'a': 1}", 0, {"invalid JSON"}},
        {"{\"a\": 01}", 0, {"invalid JSON"}},
        {"{\"a\": \"\\x\"}", 0, {"invalid JSON"}},
        {"", 0, {"empty"}},
        {"   \n", 0, {"invalid JSON", "end of file"}},
        {"42", 0, {"invalid JSON", "'{'"}},
        {"\"space\"", 0, {"invalid JSON", "'{'"}},
        {"null", 0, {"invalid JSON"}},
        {"true", 0, {"invalid JSON"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_bad(&cases[i]);
    }
    /* An embedded NUL counted by 'len' is not silently truncated. */
    static const char cut[] = "{}\0garbage";
    bad_case c = {cut, sizeof cut - 1, {"invalid JSON"}};
    assert_bad(&c);
}

Test(space_json, rejects_absurd_nesting_without_crashing)
{
    enum { DEPTH = 100000 };
    char *text = malloc(2 * DEPTH + 1);
    cr_assert_not_null(text);
    memset(text, '[', DEPTH);
    memset(text + DEPTH, ']', DEPTH);
    text[2 * DEPTH] = '\0';
    bad_case c = {text, 0, {"invalid JSON"}};
    assert_bad(&c);
    free(text);
}

/* ------------------------------------------------------------ round trip */

static void assert_specs_equal(const pz_param_spec *a, const pz_param_spec *b,
                               const char *label)
{
    cr_assert_eq(a->dist, b->dist, "'%s': dist", label);
    cr_assert_eq(a->low, b->low, "'%s': low %.17g vs %.17g", label, a->low,
                 b->low);
    cr_assert_eq(a->high, b->high, "'%s': high", label);
    cr_assert_eq(a->mu, b->mu, "'%s': mu", label);
    cr_assert_eq(a->sigma, b->sigma, "'%s': sigma", label);
    cr_assert_eq(a->q, b->q, "'%s': q", label);
    cr_assert_eq(a->n_options, b->n_options, "'%s': n_options", label);
    cr_assert_eq(a->probs == NULL, b->probs == NULL, "'%s': probs", label);
    for (size_t k = 0; a->probs && k < a->n_options; k++) {
        cr_assert_eq(a->probs[k], b->probs[k], "'%s': probs[%zu]", label, k);
    }
}

/* Same labels, same specs, same conditions (parents compared by label:
 * the order of parameters may differ). */
static void assert_spaces_equal(const pz_space *a, const pz_space *b)
{
    cr_assert_eq(pz_space_size(a), pz_space_size(b));
    for (size_t i = 0; i < pz_space_size(a); i++) {
        const char *label = pz_space_label(a, i);
        size_t j = idx(b, label), pa, pb, oa, ob;
        pz_param_spec sa, sb;
        pz_space_param(a, i, &sa, &pa, &oa, NULL);
        pz_space_param(b, j, &sb, &pb, &ob, NULL);
        assert_specs_equal(&sa, &sb, label);
        cr_assert_eq(pa == PZ_NO_PARENT, pb == PZ_NO_PARENT, "'%s'", label);
        if (pa != PZ_NO_PARENT) {
            cr_assert_str_eq(pz_space_label(a, pa), pz_space_label(b, pb),
                             "parent of '%s'", label);
            cr_assert_eq(oa, ob, "option of '%s'", label);
        }
    }
}

/* to_json -> from_json gives an equal space, and serializing that again
 * gives the same text. */
static void assert_round_trip(const pz_space *sp)
{
    char *text = NULL, *again = NULL;
    pz_error e = {0};
    cr_assert_eq(pz_space_to_json(sp, &text, &e), PZ_OK, "%s", e.msg);
    pz_space *back = NULL;
    int rc = pz_space_from_json(&back, text, strlen(text), &e);
    cr_assert_eq(rc, PZ_OK, "reparse failed: %s\n%s", e.msg, text);
    assert_spaces_equal(sp, back);
    assert_spaces_equal(back, sp);
    cr_assert_eq(pz_space_to_json(back, &again, &e), PZ_OK);
    pz_space *third = NULL;
    cr_assert_eq(pz_space_from_json(&third, again, strlen(again), &e), PZ_OK);
    char *third_text = NULL;
    cr_assert_eq(pz_space_to_json(third, &third_text, &e), PZ_OK);
    cr_assert_str_eq(again, third_text);
    pz_free(third_text);
    pz_space_free(third);
    pz_free(again);
    pz_space_free(back);
    pz_free(text);
    pzt_assert_no_leaks();
}

Test(space_json, round_trip_of_a_json_built_space)
{
    pz_space *sp = parse_ok(every_dist);
    assert_round_trip(sp);
    /* JSON-built spaces keep their template: the text is the same after
     * one pass, and points rebuild the same nesting. */
    char *t1 = NULL, *t2 = NULL;
    cr_assert_eq(pz_space_to_json(sp, &t1, NULL), PZ_OK);
    pz_space *back = parse_ok(t1);
    cr_assert_eq(pz_space_to_json(back, &t2, NULL), PZ_OK);
    cr_assert_str_eq(t1, t2);
    pz_study *st = NULL;
    cr_assert_eq(pz_study_new(&st, sp, NULL), PZ_OK);
    pz_study_set_seed(st, 3);
    double v[32];
    for (int t = 0; t < 50; t++) {
        int64_t id;
        char *pa = NULL, *pb = NULL;
        cr_assert_eq(pz_study_ask(st, &id, v, NULL), PZ_OK);
        cr_assert_eq(pz_space_point_json(sp, v, &pa, NULL), PZ_OK);
        cr_assert_eq(pz_space_point_json(back, v, &pb, NULL), PZ_OK);
        cr_assert_str_eq(pa, pb);
        pz_free(pa);
        pz_free(pb);
    }
    pz_study_free(st);
    pz_free(t1);
    pz_free(t2);
    pz_space_free(back);
    pz_space_free(sp);
}

Test(space_json, round_trip_keeps_every_double_exactly)
{
    pz_space *sp =
        parse_ok("{\"a\": {\"hp\": \"uniform\", \"low\": 0.1, \"high\": "
                 "0.30000000000000004},"
                 " \"b\": {\"hp\": \"qloguniform\", \"low\": -0.1, "
                 "\"high\": 2.2250738585072014e-308, \"q\": 0.001},"
                 " \"c\": {\"hp\": \"normal\", \"mu\": -1e300, "
                 "\"sigma\": 1.2345678901234567e299},"
                 " \"d\": {\"hp\": \"randint\", \"low\": -9007199254740992, "
                 "\"high\": 9007199254740992},"
                 " \"e\": {\"hp\": \"pchoice\", \"options\": [[0.1, 0], "
                 "[0.2, 1], [0.7, 2]]},"
                 " \"f\": {\"hp\": \"qnormal\", \"mu\": 3, \"sigma\": "
                 "0.333333333333333314829616256247390992939472198486328125, "
                 "\"q\": 0.1}}");
    assert_round_trip(sp);
    pz_space_free(sp);
}

Test(space_json, round_trip_of_an_api_built_space)
{
    /* Built with pz_space_add: no template, serialized as a flat object
     * with children inside the option that activates them. */
    pz_space *sp = NULL;
    pz_error e = {0};
    const double probs[] = {0.25, 0.75};
    pz_param_spec c = pzt_choice(3), p = pzt_pchoice(2, probs);
    pz_param_spec u = pzt_range(PZ_UNIFORM, -1, 1);
    pz_param_spec lu = pzt_range(PZ_LOGUNIFORM, -4, 0);
    pz_param_spec qn = pzt_qnormal(PZ_QNORMAL, 0, 2, 0.5);
    pz_param_spec ql = pzt_qnormal(PZ_QLOGNORMAL, 1, 0.5, 2);
    pz_param_spec ri = pzt_range(PZ_RANDINT, -2, 9);
    pz_param_spec ui = pzt_range(PZ_UNIFORMINT, 1, 4);
    pz_param_spec qu = pzt_qrange(PZ_QUNIFORM, 0, 10, 2.5);
    pz_param_spec qlu = pzt_qrange(PZ_QLOGUNIFORM, 0, 3, 1);
    pz_param_spec n = pzt_normal(PZ_NORMAL, 1, 2);
    pz_param_spec ln = pzt_normal(PZ_LOGNORMAL, 0, 1);
    size_t ic, ip;
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "c", &c, PZ_NO_PARENT, 0, &ic, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "u", &u, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "lu", &lu, ic, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "p", &p, ic, 2, &ip, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "qn", &qn, ip, 1, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "ql", &ql, ip, 1, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "ri", &ri, ic, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "ui", &ui, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "qu", &qu, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "qlu", &qlu, ip, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "n", &n, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "a b", &ln, PZ_NO_PARENT, 0, NULL, &e),
                 PZ_OK);
    assert_round_trip(sp);
    pz_space_free(sp);
}

Test(space_json, round_trip_of_an_api_built_space_with_awkward_labels)
{
    /* Labels are free text: one named like the parameter marker "hp",
     * one with quotes, one looking like a JSON path. */
    pz_space *sp = NULL;
    pz_error e = {0};
    pz_param_spec c = pzt_choice(2), u = pzt_range(PZ_UNIFORM, 0, 1);
    size_t ic;
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "hp", &u, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "say \"hi\"", &c, PZ_NO_PARENT, 0, &ic, &e),
                 PZ_OK);
    cr_assert_eq(pz_space_add(sp, "$.a[0]", &u, ic, 1, NULL, &e), PZ_OK);
    assert_round_trip(sp);
    pz_space_free(sp);
}

Test(space_json, round_trip_of_an_api_built_space_with_many_choices)
{
    /* 300 choices, their children added afterwards in reverse order, so
     * each level's parameters are scattered through the table: the writer
     * groups them by (parent, option) with one sort, not one scan of the
     * table per option (which made 10^5-parameter spaces quadratic). */
    pz_space *sp = NULL;
    pz_error e = {0};
    pz_param_spec c = pzt_choice(3), u = pzt_range(PZ_UNIFORM, 0, 1);
    size_t ic[300];
    char label[32];
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    for (size_t k = 0; k < 300; k++) {
        snprintf(label, sizeof label, "c%zu", k);
        cr_assert_eq(pz_space_add(sp, label, &c, PZ_NO_PARENT, 0, &ic[k], &e),
                     PZ_OK);
    }
    for (size_t k = 300; k-- > 0;) {
        snprintf(label, sizeof label, "b%zu", k);
        cr_assert_eq(pz_space_add(sp, label, &u, ic[k], 2, NULL, &e), PZ_OK);
        snprintf(label, sizeof label, "u%zu", k);
        cr_assert_eq(pz_space_add(sp, label, &u, ic[k], 0, NULL, &e), PZ_OK);
        snprintf(label, sizeof label, "a%zu", k);
        cr_assert_eq(pz_space_add(sp, label, &u, ic[k], 2, NULL, &e), PZ_OK);
    }
    cr_assert_eq(pz_space_add(sp, "top", &u, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    assert_round_trip(sp);
    pz_space_free(sp);
}

Test(space_json, round_trip_of_an_empty_api_built_space)
{
    pz_space *sp = NULL;
    cr_assert_eq(pz_space_new(&sp, NULL), PZ_OK);
    assert_round_trip(sp);
    pz_space_free(sp);
}

/* --------------------------------------------------------------- points */

static char *point(const pz_space *sp, const double *v)
{
    char *out = NULL;
    pz_error e = {0};
    cr_assert_eq(pz_space_point_json(sp, v, &out, &e), PZ_OK, "%s", e.msg);
    return out;
}

Test(space_json, point_json_rebuilds_the_nesting)
{
    pz_space *sp = parse_ok("{\"lr\": {\"hp\": \"loguniform\", \"low\": -5, "
                            "\"high\": 0},\n"
                            " \"n\": {\"hp\": \"randint\", \"upper\": 10},\n"
                            " \"k\": {\"hp\": \"uniformint\", \"low\": 1, "
                            "\"high\": 9},\n"
                            " \"tag\": \"run\", \"list\": [1, {\"hp\": "
                            "\"uniform\", \"label\": \"u\", " U01 "}, null],\n"
                            " \"fixed\": {\"hp\": \"const\", \"value\": "
                            "{\"hp\": [true]}},\n"
                            " \"m\": {\"hp\": \"choice\", \"options\": [\n"
                            "   \"linear\",\n"
                            "   {\"name\": \"rbf\", \"g\": {\"hp\": "
                            "\"normal\", \"mu\": 0, \"sigma\": 1}}]}}");
    size_t n = pz_space_size(sp);
    cr_assert_eq(n, 6);
    double v[6];
    v[idx(sp, "lr")] = 0.125;
    v[idx(sp, "n")] = 3;
    v[idx(sp, "k")] = 4;
    v[idx(sp, "u")] = 0.5;
    v[idx(sp, "m")] = 1;
    v[idx(sp, "g")] = -0.25;
    char *pt = point(sp, v);
    cr_assert_str_eq(pt, "{\"lr\":0.125,\"n\":3,\"k\":4,\"tag\":\"run\","
                         "\"list\":[1,0.5,null],\"fixed\":{\"hp\":[true]},"
                         "\"m\":{\"name\":\"rbf\",\"g\":-0.25}}");
    pz_free(pt);
    /* Option 0: g is inactive, whatever its slot holds, and absent. */
    v[idx(sp, "m")] = 0;
    v[idx(sp, "g")] = NAN;
    pt = point(sp, v);
    cr_assert_str_eq(pt, "{\"lr\":0.125,\"n\":3,\"k\":4,\"tag\":\"run\","
                         "\"list\":[1,0.5,null],\"fixed\":{\"hp\":[true]},"
                         "\"m\":\"linear\"}");
    pz_free(pt);
    pz_space_free(sp);
}

Test(space_json, point_json_of_sampled_points_has_only_active_parameters)
{
    pz_space *sp = parse_ok(every_dist);
    pz_study *st = NULL;
    cr_assert_eq(pz_study_new(&st, sp, NULL), PZ_OK);
    pz_study_set_seed(st, 11);
    int kinds[4] = {0};
    for (int t = 0; t < 200; t++) {
        double v[19];
        int64_t id;
        cr_assert_eq(pz_study_ask(st, &id, v, NULL), PZ_OK);
        char *pt = point(sp, v);
        double m = v[idx(sp, "model")];
        kinds[(int)m]++;
        cr_assert_eq(strstr(pt, "\"kind\":\"svm\"") != NULL, m == 0, "%s", pt);
        cr_assert_eq(strstr(pt, "\"C\":") != NULL, m == 0, "%s", pt);
        cr_assert_eq(strstr(pt, "\"k\":") != NULL, m == 1, "%s", pt);
        cr_assert_eq(strstr(pt, "\"depth\":[1,2,") != NULL, m == 2, "%s", pt);
        cr_assert_eq(strstr(pt, "\"model\":null") != NULL, m == 3, "%s", pt);
        bool rbf = m == 0 && v[idx(sp, "svm_kernel")] == 1;
        cr_assert_eq(strstr(pt, "\"gamma\":") != NULL, rbf, "%s", pt);
        bool sgd = v[idx(sp, "optimizer")] == 1;
        cr_assert_eq(strstr(pt, "\"momentum\":") != NULL, sgd, "%s", pt);
        cr_assert_eq(strstr(pt, "\"opt\":\"adam\"") != NULL, !sgd);
        cr_assert(strstr(pt, "\"fixed\":{\"hp\":1,\"x\":[1,2]}") != NULL);
        /* Integers print as integers. */
        cr_assert(strstr(pt, "\"seed\":") && !strstr(pt, "\"seed\":-"));
        const char *ep = strstr(pt, "\"epochs\":");
        cr_assert(ep && strcspn(ep + 9, ".,}") == strcspn(ep + 9, ",}"),
                  "epochs is not an integer in %s", pt);
        pz_free(pt);
    }
    for (int k = 0; k < 4; k++) {
        cr_assert_gt(kinds[k], 0);
    }
    pz_study_free(st);
    pz_space_free(sp);
}

Test(space_json, point_json_of_an_api_built_space_is_flat)
{
    pz_space *sp = NULL;
    pz_param_spec c = pzt_choice(2), u = pzt_range(PZ_UNIFORM, 0, 1);
    pz_param_spec r = pzt_range(PZ_RANDINT, 0, 5);
    cr_assert_eq(pz_space_new(&sp, NULL), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "c", &c, PZ_NO_PARENT, 0, NULL, NULL), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "x", &u, 0, 1, NULL, NULL), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "r", &r, PZ_NO_PARENT, 0, NULL, NULL), PZ_OK);
    double v[] = {1, 0.5, 2};
    char *pt = point(sp, v);
    cr_assert_str_eq(pt, "{\"c\":1,\"x\":0.5,\"r\":2}");
    pz_free(pt);
    double w[] = {0, 0.5, 2}; /* x inactive: absent */
    pt = point(sp, w);
    cr_assert_str_eq(pt, "{\"c\":0,\"r\":2}");
    pz_free(pt);
    pz_space_free(sp);
}

Test(space_json, point_json_rejects_a_bad_point_naming_the_label)
{
    pz_space *sp = parse_ok("{\"m\": {\"hp\": \"choice\", \"options\": "
                            "[1, 2]}, \"r\": {\"hp\": \"randint\", "
                            "\"upper\": 3}}");
    pz_error e = {0};
    char *out = (char *)&e;
    double v[] = {2, 0};
    pzt_assert_fails(pz_space_point_json(sp, v, &out, &e), e, PZ_EINVAL, "'m'");
    double w[] = {1, 0.5};
    pzt_assert_fails(pz_space_point_json(sp, w, &out, &e), e, PZ_EINVAL, "'r'");
    double x[] = {NAN, 1};
    pzt_assert_fails(pz_space_point_json(sp, x, &out, &e), e, PZ_EINVAL, "'m'");
    pz_space_free(sp);
}

/* ---------------------------------------------------------------- files */

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/pz_test_space_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

Test(space_json, from_file_reads_a_space_and_names_the_file_in_errors)
{
    char *good = write_temp(every_dist);
    pz_space *sp = NULL;
    pz_error e = {0};
    cr_assert_eq(pz_space_from_file(&sp, good, &e), PZ_OK, "%s", e.msg);
    cr_assert_eq(pz_space_size(sp), 19);
    pz_space_free(sp);
    char *bad = write_temp("{\n \"x\": {\"hp\": \"uniform\", \"low\": 2, "
                           "\"high\": 1}}");
    pzt_assert_fails(pz_space_from_file(&sp, bad, &e), e, PZ_ESPACE, bad,
                     "$.x (line 2, column 7)", "'x'");
    cr_assert_null(sp);
    pzt_assert_fails(pz_space_from_file(&sp, "/nonexistent/space.json", &e), e,
                     PZ_EIO, "/nonexistent/space.json", "No such file");
    cr_assert_null(sp);
    unlink(good);
    unlink(bad);
    free(good);
    free(bad);
}

/* ------------------------------------------------------ the syntax check */

/* pz__json_check is the second opinion that tells jansson's allocation
 * failures from syntax errors: it must refuse whatever jansson refuses as
 * bad syntax, and accept what jansson loads. */
static void check_agrees(const char *text, size_t len, bool want)
{
    json_error_t je = {0};
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    enum json_error_code code = json_error_code(&je);
    json_decref(j);
    cr_assert_eq(pz__json_check(text, len), want, "'%.*s': want %s", (int)len,
                 text, want ? "valid" : "invalid");
    if (j != NULL) {
        cr_assert(want, "'%.*s': jansson loads it", (int)len, text);
    }
    if (code == json_error_invalid_syntax ||
        code == json_error_premature_end_of_input) {
        cr_assert(!want, "'%.*s': jansson calls it bad syntax (%s)", (int)len,
                  text, je.text);
    }
}

Test(space_json, syntax_check_accepts_what_jansson_loads)
{
    static const char *const good[] = {
        "{}",
        "[]",
        " \t\r\n{ } \n",
        "[0, -0, 1.5, -2e10, 3E+2, 4e-2, 1234567890123456789]",
        "[true, false, null, \"\", \"a\\\"\\\\\\/\\b\\f\\n\\r\\t\"]",
        "{\"a\": {\"b\": [1, {\"c\": []}]}, \"d\": \"x\"}",
        "[\"\\u00e9\\uD83D\\uDE00\", \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]",
        "{\"dup\": 1, \"dup\": 2}", /* jansson: duplicate, not syntax */
        "[\"\\u0000\"]",            /* jansson: NUL, not syntax */
        "[1e400]",                  /* jansson: overflow, not syntax */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        check_agrees(good[i], strlen(good[i]), true);
    }
}

Test(space_json, syntax_check_refuses_what_jansson_calls_bad_syntax)
{
    static const char *const bad[] = {
        "",
        " ",
        "1",
        "\"s\"",
        "true",
        "{",
        "[",
        "[1,]",
        "{\"a\":1,}",
        "[1 2]",
        "{\"a\" 1}",
        "{1: 2}",
        "{\"a\": }",
        "[01]",
        "[1.]",
        "[.5]",
        "[-]",
        "[1e]",
        "[+1]",
        "[tru]",
        "[truex]",
        "[nul]",
        "[\"a]",
        "[\"\\x\"]",
        "[\"\\u12\"]",
        "[\"\\uD800\"]",
        "[\"\\uDC00\"]",
        "[\"\\uD800\\u0041\"]",
        "{} {}",
        "[]]",
        "{]",
        "[}",
        "[\"\t\"]",
        "[\"\xff\"]",
        "[\"\xc0\xaf\"]",
        "[\"\xed\xa0\x80\"]",
        "[\"\xf4\x90\x80\x80\"]",
        "[\xc3\xa9]",
        "[1] x",
        "[NaN]",
        "[Infinity]",
        "['a']",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        check_agrees(bad[i], strlen(bad[i]), false);
    }
    check_agrees("[\"a\0b\"]", 7, false); /* NUL bytes, raw */
    check_agrees("[1]\0", 4, false);
}

Test(space_json, syntax_check_nests_as_deep_as_jansson_and_no_deeper)
{
    enum { MAX = JSON_PARSER_MAX_DEPTH };
    static char text[2 * (MAX + 1)];
    for (size_t depth = MAX; depth <= MAX + 1; depth++) {
        memset(text, '[', depth);
        memset(text + depth, ']', depth);
        check_agrees(text, 2 * depth, depth <= MAX);
    }
}

/* ------------------------------------------------------------ the lexer */

Test(space_json, lexer_gives_each_token_its_offset_line_and_column)
{
    /* Columns count characters: "é" is two bytes, one column. */
    static const char text[] = "{\"\xC3\xA9\": [1.5e3,\n  true, \"a\\u00e9\"]}";
    static const struct {
        pz__json_tok tok;
        size_t off, len, line, col;
    } want[] = {
        {PZ__JSON_LBRACE, 0, 1, 1, 1},   {PZ__JSON_STRING, 1, 4, 1, 2},
        {PZ__JSON_COLON, 5, 1, 1, 5},    {PZ__JSON_LBRACKET, 7, 1, 1, 7},
        {PZ__JSON_NUMBER, 8, 5, 1, 8},   {PZ__JSON_COMMA, 13, 1, 1, 13},
        {PZ__JSON_TRUE, 17, 4, 2, 3},    {PZ__JSON_COMMA, 21, 1, 2, 7},
        {PZ__JSON_STRING, 23, 9, 2, 9},  {PZ__JSON_RBRACKET, 32, 1, 2, 18},
        {PZ__JSON_RBRACE, 33, 1, 2, 19}, {PZ__JSON_END, 34, 0, 2, 20},
    };
    pz__json_lexer lx;
    pz__json_lex_init(&lx, text, strlen(text));
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        pz__json_tok t = pz__json_lex_next(&lx);
        cr_assert_eq(t, want[i].tok, "token %zu: kind %d", i, (int)t);
        cr_assert_eq(lx.tok_off, want[i].off, "token %zu: offset %zu", i,
                     lx.tok_off);
        cr_assert_eq(lx.tok_len, want[i].len, "token %zu: length", i);
        cr_assert_eq(lx.tok_line, want[i].line, "token %zu: line", i);
        cr_assert_eq(lx.tok_col, want[i].col, "token %zu: column %zu", i,
                     lx.tok_col);
        if (i == 8) {
            char buf[8], small[3];
            cr_assert(pz__json_lex_string(&lx, buf, sizeof buf));
            cr_assert_str_eq(buf, "a\xC3\xA9");
            cr_assert_not(pz__json_lex_string(&lx, small, sizeof small),
                          "a decoded string that does not fit says so");
        }
    }
    pz__json_lexer bad;
    pz__json_lex_init(&bad, "[\"a\x01\"]", 6);
    pz__json_lex_next(&bad);
    cr_assert_eq(pz__json_lex_next(&bad), PZ__JSON_ERROR,
                 "a control character inside a string is not a token");
}

Test(space_json, locate_walks_a_path_to_its_value)
{
    static const char text[] = "{\"a\": [0, {\"b\": 1},\n {\"c\\u0064\": [2,"
                               " 3]}], \"e\": 4}";
    const pz__json_seg path[] = {{"a", 0}, {NULL, 2}, {"cd", 0}, {NULL, 1}};
    const pz__json_seg other[] = {{"e", 0}};
    size_t line, col;
    pz__json_locate(text, strlen(text), path, 4, &line, &col);
    cr_assert_eq(line, 2);
    cr_assert_eq(col, 18, "column %zu", col);
    pz__json_locate(text, strlen(text), other, 1, &line, &col);
    cr_assert_eq(line, 2);
    cr_assert_eq(col, 29, "column %zu", col);
    pz__json_locate(text, strlen(text), path, 0, &line, &col);
    cr_assert(line == 1 && col == 1, "the root is where the text starts");
}

/* ---------------------------------------------------------------- scale */

/* The timeouts of the 100,000-parameter tests guard against quadratic
 * work (hours at this size), not speed: the hardening stage runs them
 * under valgrind, some 40x slower, on a shared machine. */
Test(space_json, parses_a_space_of_100000_parameters, .timeout = 120)
{
    enum { N = 100000 };
    size_t cap = (size_t)N * 64 + 16, used = 0;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    used += (size_t)snprintf(text + used, cap - used, "{");
    for (size_t i = 0; i < N; i++) {
        used += (size_t)snprintf(text + used, cap - used,
                                 "%s\"p%zu\": {\"hp\": \"uniform\", " U01 "}",
                                 i ? "," : "", i);
    }
    snprintf(text + used, cap - used, "}");
    pz_space *sp = parse_ok(text);
    cr_assert_eq(pz_space_size(sp), N);
    cr_assert_str_eq(pz_space_label(sp, N - 1), "p99999");
    pz_space_free(sp);
    free(text);
}

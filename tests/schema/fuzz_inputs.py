"""Hypothesis strategies for the fuzz test: odd values, mangled documents, real operations with random variables."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

ODD_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\ud800",  # a lone surrogate: valid in JSON escapes, unencodable as UTF-8
        "\u202e\u200b\ufeff",
        "\U0001d54f" * 300,
        "é" * 5000,
        "' OR 1=1 --",
        "../../etc/passwd",
        "%s%n{0}",
        "9" * 400,
        "-1",
        "0",
        "1e309",
        "2026-02-30",
        "0001-01-01",
        "9999-12-31",
        "null",
    ]
)
TEXT = st.one_of(ODD_STRINGS, st.text(max_size=40), st.text(st.characters(codec="utf-8"), max_size=20))
HUGE_INTS = st.one_of(
    st.integers(),
    st.sampled_from([2**31, -(2**31) - 1, 2**53 + 1, 2**63, 10**400]),
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
SCALARS = st.one_of(st.none(), st.booleans(), HUGE_INTS, FLOATS, TEXT)
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6
)
IDS = st.one_of(st.integers(min_value=-5, max_value=300).map(str), st.integers(min_value=-5, max_value=300), TEXT)
DATES = st.one_of(st.dates().map(str), TEXT)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything at all."""
    return st.one_of(strategy, strategy, strategy, JSON_VALUES)


VALID_DOCUMENTS = [
    "{ employees(first: 3) { edges { node { id name department { name } post { code } } } totalCount } }",
    "query Q($id: ID!) { employee(id: $id) { name manager { name } results { totalScore grade } } }",
    "{ cycles { id state transitions { toState reason } } }",
    "fragment F on Department { id name } { departments { ...F children { ...F } } }",
    'mutation { cycleCreate(input: {name: "x", periodStart: "2027-01-01", periodEnd: "2027-03-31"}) { __typename } }',
]


@st.composite
def mangled_documents(draw: st.DrawFn) -> str:
    """A valid document with a slice deleted, duplicated or replaced by random text."""
    document = draw(st.sampled_from(VALID_DOCUMENTS))
    start = draw(st.integers(0, len(document)))
    end = draw(st.integers(start, len(document)))
    middle = draw(st.sampled_from(["", document[start:end] * 2, "{", "}", "(", "$", "...", "\ud800", "\x00"]) | TEXT)
    return document[:start] + middle + document[end:]


QUERY_TEMPLATES: list[tuple[str, dict[str, st.SearchStrategy[Any]]]] = [
    ("query($id: ID!) { employee(id: $id) { id name post { code } } }", {"id": maybe(IDS)}),
    (
        "query($first: Int, $after: String, $filter: EmployeeFilter) "
        "{ employees(first: $first, after: $after, filter: $filter) { totalCount edges { node { id } } } }",
        {
            "first": maybe(HUGE_INTS),
            "after": maybe(TEXT),
            "filter": maybe(
                st.fixed_dictionaries(
                    {},
                    optional={"departmentId": IDS, "postId": IDS, "postFamily": TEXT, "nameContains": TEXT},
                )
            ),
        },
    ),
    ("query($id: ID!) { cycle(id: $id) { id name state } }", {"id": maybe(IDS)}),
    (
        "query($c: ID!, $f: ResultFilter, $first: Int) { results(cycleId: $c, filter: $f, first: $first) "
        "{ totalCount edges { node { totalScore grade } } } }",
        {
            "c": maybe(IDS),
            "first": maybe(HUGE_INTS),
            "f": maybe(
                st.fixed_dictionaries(
                    {},
                    optional={"minScore": FLOATS, "maxScore": FLOATS, "grade": TEXT, "postFamily": TEXT},
                )
            ),
        },
    ),
    (
        "query($c: ID!, $g: [GroupDimension!]!) { scoreStatistics(cycleId: $c, groupBy: $g) { count } }",
        {"c": maybe(IDS), "g": maybe(st.lists(st.sampled_from(["DEPARTMENT", "POST", "GRADE", "CYCLE", "X"])))},
    ),
    ("query($c: ID!, $p: ID!) { schemeDiagnostics(cycleId: $c, postId: $p) { flags } }", {"c": IDS, "p": IDS}),
]

MUTATION_TEMPLATES: list[tuple[str, dict[str, st.SearchStrategy[Any]]]] = [
    (
        "mutation($i: IndicatorCreateInput!) { indicatorCreate(input: $i) { __typename } }",
        {
            "i": maybe(
                st.fixed_dictionaries(
                    {
                        "code": TEXT,
                        "name": TEXT,
                        "category": maybe(st.sampled_from(["CORE", "EXTENSION"])),
                        "direction": maybe(st.sampled_from(["HIGHER_IS_BETTER", "LOWER_IS_BETTER"])),
                        "rule": JSON_VALUES,
                        "sourceSystem": TEXT,
                        "effectiveFrom": DATES,
                    }
                )
            )
        },
    ),
    (
        "mutation($i: IndicatorVersionCreateInput!) { indicatorVersionCreate(input: $i) { __typename } }",
        {
            "i": maybe(
                st.fixed_dictionaries(
                    {
                        "indicatorId": IDS,
                        "rule": JSON_VALUES,
                        "sourceSystem": TEXT,
                        "effectiveFrom": DATES,
                        "changeNote": TEXT,
                    }
                )
            )
        },
    ),
    (
        "mutation($i: SchemeVersionPublishInput!) { schemeVersionPublish(input: $i) { __typename } }",
        {
            "i": maybe(
                st.fixed_dictionaries(
                    {
                        "postId": IDS,
                        "effectiveFrom": DATES,
                        "items": st.lists(
                            st.fixed_dictionaries({"indicatorVersionId": IDS, "weight": maybe(FLOATS)}), max_size=3
                        ),
                    }
                )
            )
        },
    ),
    (
        "mutation($i: CycleCreateInput!) { cycleCreate(input: $i) { __typename } }",
        {"i": maybe(st.fixed_dictionaries({"name": TEXT, "periodStart": DATES, "periodEnd": DATES}))},
    ),
    ("mutation($c: ID!) { cycleOpen(cycleId: $c) { __typename } }", {"c": maybe(IDS)}),
    ("mutation($c: ID!, $r: String!) { cycleReopen(cycleId: $c, reason: $r) { __typename } }", {"c": IDS, "r": TEXT}),
    (
        "mutation($c: ID!, $r: String) { cycleCloseCalibration(cycleId: $c, reason: $r) { __typename } }",
        {"c": maybe(IDS), "r": maybe(TEXT)},
    ),
    (
        "mutation($i: RaterAssignInput!) { raterAssign(input: $i) { __typename } }",
        {
            "i": maybe(
                st.fixed_dictionaries(
                    {
                        "cycleId": IDS,
                        "rateeId": IDS,
                        "raterId": IDS,
                        "role": maybe(st.sampled_from(["SELF", "MANAGER", "PEER", "SUBORDINATE"])),
                    }
                )
            )
        },
    ),
    (
        "mutation($i: RaterAssignManyInput!) { raterAssignMany(input: $i) { __typename } }",
        {
            "i": maybe(
                st.fixed_dictionaries(
                    {
                        "cycleId": IDS,
                        "assignments": st.lists(
                            st.fixed_dictionaries(
                                {"rateeId": IDS, "raterId": IDS, "role": st.sampled_from(["SELF", "PEER", "MANAGER"])}
                            ),
                            max_size=4,
                        ),
                    }
                )
            )
        },
    ),
    (
        "mutation($v: ID!, $d: Date!, $n: String!) { indicatorVersionAdopt(indicatorVersionId: $v, effectiveFrom: $d,"
        " changeNote: $n) { __typename } }",
        {"v": maybe(IDS), "d": DATES, "n": TEXT},
    ),
    (
        "mutation($i: RatingSubmitInput!) { ratingSubmit(input: $i) { __typename } }",
        {
            "i": maybe(
                st.fixed_dictionaries(
                    {
                        "cycleId": IDS,
                        "rateeId": IDS,
                        "raterId": IDS,
                        "indicatorVersionId": IDS,
                        "value": maybe(FLOATS),
                        "comment": maybe(TEXT),
                    }
                )
            )
        },
    ),
    (
        "mutation($c: ID!, $csv: String!) { metricValuesImport(cycleId: $c, csv: $csv) { __typename } }",
        {
            "c": maybe(IDS),
            "csv": st.one_of(
                TEXT,
                st.lists(st.lists(TEXT, max_size=4).map(",".join), max_size=4).map(
                    lambda rows: "\n".join(["employee_no,indicator,value", *rows])
                ),
            ),
        },
    ),
    (
        "mutation($i: ResultCalibrateInput!) { resultCalibrate(input: $i) { __typename } }",
        {
            "i": maybe(
                st.fixed_dictionaries(
                    {"resultId": IDS, "reason": TEXT},
                    optional={
                        "totalScore": FLOATS,
                        "grade": maybe(st.sampled_from(["S", "A", "B", "C", "D"])),
                        "targetScope": maybe(
                            st.fixed_dictionaries({}, optional={"postId": maybe(IDS), "departmentId": maybe(IDS)})
                        ),
                    },
                )
            )
        },
    ),
    (
        "mutation($i: ResultCorrectInput!) { resultCorrect(input: $i) { __typename } }",
        {
            "i": maybe(
                st.fixed_dictionaries(
                    {"resultId": IDS, "reason": TEXT, "totalScore": FLOATS},
                    optional={
                        "grade": maybe(st.sampled_from(["S", "A", "B", "C", "D"])),
                        "gradeOverride": st.booleans(),
                    },
                )
            )
        },
    ),
]


@st.composite
def operations(
    draw: st.DrawFn, templates: list[tuple[str, dict[str, st.SearchStrategy[Any]]]]
) -> tuple[str, dict[str, Any]]:
    query, variables = draw(st.sampled_from(templates))
    values = {name: draw(strategy) for name, strategy in variables.items()}
    dropped = draw(st.sets(st.sampled_from(sorted(variables)))) if draw(st.integers(0, 9)) == 0 else set()
    return query, {name: value for name, value in values.items() if name not in dropped}

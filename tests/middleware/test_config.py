"""connmw.config: every option from a keyword and from CONNMW_*, strictly parsed.

Keyword > environment > default; a bad value fails when the middleware is built, with a
message naming the setting, the value and the accepted forms (issue 2, item 3), e.g.
``CONNMW_KEEP_ALIVE_TIMEOUT='soon': expected a whole number of seconds >= 1``.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import pytest

from connmw import config as config_module
from connmw.config import PREFIX, Config, describe_options, load_config
from connmw.errors import ConfigError, ConnmwError
from connmw.rules import HOP, ORDINARY

DEFAULTS = {field.name: field.default for field in dataclasses.fields(Config)}
ACCEPTED = {keyword: accepted for _, keyword, _, accepted in describe_options()}


def variable(option: str) -> str:
    return PREFIX + option.upper()


# --------------------------------------------------------------------------------------
# Every option, from the environment and from a keyword
# --------------------------------------------------------------------------------------

# (option, environment text, value it gives, keyword value, value it gives). The three
# values env / keyword / default differ wherever the type allows, so each row also
# proves the order keyword > environment > default.
OPTIONS = [
    pytest.param("enabled", "0", False, True, True, id="enabled"),
    pytest.param("strict", "yes", True, False, False, id="strict"),
    pytest.param("explicit_keep_alive", "off", False, True, True, id="explicit-keep-alive"),
    pytest.param("http10_keep_alive", "on", True, False, False, id="http10-keep-alive"),
    pytest.param(
        "strip_headers",
        "Server, X-Powered-By",
        ("server", "x-powered-by"),
        ["X-Runtime"],
        ("x-runtime",),
        id="strip-headers",
    ),
    pytest.param(
        "protected_headers",
        "X-Tenant, x-acme-*",
        ("x-tenant", "x-acme-*"),
        ("X-Request-Id",),
        ("x-request-id",),
        id="protected-headers",
    ),
    pytest.param("strip_request_headers", "true", True, False, False, id="strip-request-headers"),
    pytest.param("max_connection_tokens", "10", 10, 32, 32, id="max-connection-tokens"),
    pytest.param("ws_validate", "false", False, True, True, id="ws-validate"),
    pytest.param(
        "ws_allowed_origins",
        "https://app.example.com, https://*.example.com",
        ("https://app.example.com", "https://*.example.com"),
        ["null"],
        ("null",),
        id="ws-allowed-origins",
    ),
    pytest.param("http10_buffer_bytes", "0", 0, 4096, 4096, id="http10-buffer-bytes"),
    pytest.param(
        "drain_file",
        "/run/connmw/drain",
        "/run/connmw/drain",
        pathlib.Path("/var/lib/app/drain"),
        "/var/lib/app/drain",
        id="drain-file",
    ),
    pytest.param("drain_window", "2.5", 2.5, 10, 10.0, id="drain-window"),
    pytest.param("drain_stream_retry", "3000", 3000, 0, 0, id="drain-stream-retry"),
    pytest.param("keep_alive_timeout", "5", 5, 75, 75, id="keep-alive-timeout"),
    pytest.param("max_requests_per_connection", "100", 100, 3, 3, id="max-requests-per-connection"),
    pytest.param("max_connection_age", "3600", 3600, 60, 60, id="max-connection-age"),
    pytest.param("ready_path", "/healthz", "/healthz", "/-/ready", "/-/ready", id="ready-path"),
    pytest.param("server", "Unknown", "unknown", "django", "django", id="server"),
    pytest.param("metrics", "Prometheus", "prometheus", "otel", "otel", id="metrics"),
]


def test_the_table_covers_every_option() -> None:
    assert {param.values[0] for param in OPTIONS} == set(DEFAULTS)


@pytest.mark.parametrize(("option", "text", "from_env", "keyword", "from_keyword"), OPTIONS)
def test_option_from_the_environment(
    option: str, text: str, from_env: Any, keyword: Any, from_keyword: Any
) -> None:
    config = load_config({variable(option): text})
    assert getattr(config, option) == from_env
    assert from_env != DEFAULTS[option]


@pytest.mark.parametrize(("option", "text", "from_env", "keyword", "from_keyword"), OPTIONS)
def test_option_from_a_keyword(
    option: str, text: str, from_env: Any, keyword: Any, from_keyword: Any
) -> None:
    assert getattr(load_config({}, **{option: keyword}), option) == from_keyword


@pytest.mark.parametrize(("option", "text", "from_env", "keyword", "from_keyword"), OPTIONS)
def test_a_keyword_beats_the_environment(
    option: str, text: str, from_env: Any, keyword: Any, from_keyword: Any
) -> None:
    config = load_config({variable(option): text}, **{option: keyword})
    assert getattr(config, option) == from_keyword
    assert from_keyword != from_env


@pytest.mark.parametrize("option", sorted(DEFAULTS))
def test_the_default_applies_when_neither_is_given(option: str) -> None:
    assert getattr(load_config({}), option) == DEFAULTS[option]


def test_issue_2_defaults() -> None:
    config = load_config({})
    assert (config.enabled, config.strict, config.explicit_keep_alive, config.http10_keep_alive) == (
        True,
        False,
        True,
        False,
    )
    assert (config.strip_request_headers, config.max_connection_tokens, config.ws_validate) == (
        False,
        16,
        True,
    )
    assert config.ws_allowed_origins == ()


def test_load_config_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in __import__("os").environ if name.startswith(PREFIX)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CONNMW_KEEP_ALIVE_TIMEOUT", "9")
    assert load_config().keep_alive_timeout == 9
    monkeypatch.setenv("CONNMW_KEEP_ALIVE_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="CONNMW_KEEP_ALIVE_TIMEOUT='soon'"):
        load_config()


# --------------------------------------------------------------------------------------
# Booleans and lists
# --------------------------------------------------------------------------------------

BOOLEANS = [
    pytest.param("1", True, id="one-is-true"),
    pytest.param("0", False, id="zero-is-false"),
    pytest.param("true", True, id="true"),
    pytest.param("false", False, id="false"),
    pytest.param("yes", True, id="yes"),
    pytest.param("no", False, id="no"),
    pytest.param("on", True, id="on"),
    pytest.param("off", False, id="off"),
    pytest.param("TRUE", True, id="upper-case-true"),
    pytest.param("No", False, id="title-case-no"),
    pytest.param(" on\n", True, id="white-space-around-on"),
]
BOOLEAN_OPTIONS = sorted(option for option, default in DEFAULTS.items() if isinstance(default, bool))


@pytest.mark.parametrize("option", BOOLEAN_OPTIONS)
@pytest.mark.parametrize(("text", "value"), BOOLEANS)
def test_booleans(option: str, text: str, value: bool) -> None:
    assert getattr(load_config({variable(option): text}), option) is value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("a,b", ("a", "b"), id="a-plain-comma-list"),
        pytest.param(" a , b ", ("a", "b"), id="white-space-around-items-is-trimmed"),
        pytest.param("a,,b,", ("a", "b"), id="empty-items-are-dropped"),
        pytest.param("X-A", ("x-a",), id="one-item-lower-cased"),
        pytest.param("", (), id="an-empty-variable-is-an-empty-list"),
        pytest.param(" , ", (), id="only-commas-and-spaces-are-an-empty-list"),
    ],
)
def test_comma_lists(text: str, value: tuple[str, ...]) -> None:
    assert load_config({"CONNMW_STRIP_HEADERS": text}).strip_headers == value


@pytest.mark.parametrize(
    "keyword",
    [
        pytest.param("x-a, x-b", id="a-comma-string"),
        pytest.param(["x-a", "x-b"], id="a-list"),
        pytest.param(("x-a", "x-b"), id="a-tuple"),
        pytest.param(["x-a", "", " x-b "], id="a-list-with-blank-items"),
    ],
)
def test_list_keywords(keyword: Any) -> None:
    assert load_config({}, strip_headers=keyword).strip_headers == ("x-a", "x-b")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("", None, id="empty-means-none"),
        pytest.param("none", None, id="none-means-none"),
        pytest.param("off", None, id="off-means-none"),
        pytest.param(" 30 ", 30, id="white-space-around-a-number"),
    ],
)
def test_optional_numbers(text: str, value: int | None) -> None:
    assert load_config({"CONNMW_KEEP_ALIVE_TIMEOUT": text}).keep_alive_timeout == value


def test_an_empty_drain_file_means_none() -> None:
    assert load_config({"CONNMW_DRAIN_FILE": ""}).drain_file is None


# --------------------------------------------------------------------------------------
# Bad values: one message naming the variable, the value and the accepted forms
# --------------------------------------------------------------------------------------

BAD_ENV = [
    *(
        pytest.param(option, text, id=f"{option.replace('_', '-')}-{label}")
        for option in BOOLEAN_OPTIONS
        for text, label in [("maybe", "maybe"), ("", "empty"), ("2", "two"), ("y", "y"), ("truee", "typo")]
    ),
    pytest.param("strip_headers", "bad header", id="strip-headers-with-a-space"),
    pytest.param("strip_headers", "x-a;x-b", id="strip-headers-with-a-semicolon"),
    pytest.param("strip_headers", "x-\u00e9", id="strip-headers-with-a-latin-1-letter"),
    pytest.param("strip_headers", "x-acme-*", id="strip-headers-with-a-prefix-that-would-match-nothing"),
    pytest.param("strip_headers", "*", id="strip-headers-star"),
    pytest.param("strip_headers", "host, x-foo", id="strip-headers-naming-protected-host"),
    pytest.param("strip_headers", "X-Forwarded-For", id="strip-headers-naming-a-protected-prefix"),
    pytest.param("protected_headers", "*", id="protected-headers-bare-star"),
    pytest.param("protected_headers", "x a", id="protected-headers-with-a-space"),
    pytest.param("protected_headers", "x-\u2603", id="protected-headers-outside-latin-1"),
    pytest.param("max_connection_tokens", "0", id="max-connection-tokens-zero"),
    pytest.param("max_connection_tokens", "-1", id="max-connection-tokens-negative"),
    pytest.param("max_connection_tokens", "ten", id="max-connection-tokens-a-word"),
    pytest.param("max_connection_tokens", "1.5", id="max-connection-tokens-a-fraction"),
    pytest.param("max_connection_tokens", "", id="max-connection-tokens-empty"),
    pytest.param("max_connection_tokens", "+5", id="max-connection-tokens-with-a-sign"),
    pytest.param("max_connection_tokens", "\u0663", id="max-connection-tokens-an-arabic-digit"),
    pytest.param("ws_allowed_origins", "example.com", id="ws-allowed-origins-without-a-scheme"),
    pytest.param("ws_allowed_origins", "https://*", id="ws-allowed-origins-a-bare-star-host"),
    pytest.param("ws_allowed_origins", "https://a.example/app", id="ws-allowed-origins-with-a-path"),
    pytest.param(
        "ws_allowed_origins", "https://ok.example, https://a.*.example", id="ws-allowed-origins-star-inside"
    ),
    pytest.param("http10_buffer_bytes", "-1", id="http10-buffer-bytes-negative"),
    pytest.param("http10_buffer_bytes", "1MB", id="http10-buffer-bytes-with-a-unit"),
    pytest.param("http10_buffer_bytes", "", id="http10-buffer-bytes-empty"),
    pytest.param("drain_window", "-1", id="drain-window-negative"),
    pytest.param("drain_window", "5s", id="drain-window-with-a-unit"),
    pytest.param("drain_stream_retry", "1.5", id="drain-stream-retry-a-fraction"),
    pytest.param("keep_alive_timeout", "soon", id="keep-alive-timeout-soon-as-in-the-issue"),
    pytest.param("keep_alive_timeout", "0", id="keep-alive-timeout-zero"),
    pytest.param("keep_alive_timeout", "1.5", id="keep-alive-timeout-a-fraction"),
    pytest.param("keep_alive_timeout", "5s", id="keep-alive-timeout-with-a-unit"),
    pytest.param("max_requests_per_connection", "0", id="max-requests-per-connection-zero"),
    pytest.param("max_requests_per_connection", "many", id="max-requests-per-connection-a-word"),
    pytest.param("max_connection_age", "0", id="max-connection-age-zero"),
    pytest.param("max_connection_age", "1h", id="max-connection-age-with-a-unit"),
    pytest.param("ready_path", "healthz", id="ready-path-without-a-slash"),
    pytest.param("ready_path", "/healthz?full=1", id="ready-path-with-a-query"),
    pytest.param("ready_path", "/ready now", id="ready-path-with-a-space"),
    pytest.param("ready_path", "/ready#x", id="ready-path-with-a-fragment"),
    pytest.param("ready_path", "/r\x01", id="ready-path-with-a-control-byte"),
    pytest.param("server", "nginx", id="server-not-one-connmw-knows"),
    pytest.param("server", "", id="server-empty"),
    pytest.param("metrics", "statsd", id="metrics-not-a-backend"),
    pytest.param("metrics", "prometheus,otel", id="metrics-two-backends"),
]


def test_every_option_has_a_bad_environment_value_except_drain_file() -> None:
    # Any non-empty text is a path; drain_file's bad values come from keywords below.
    assert {param.values[0] for param in BAD_ENV} == set(DEFAULTS) - {"drain_file"}


@pytest.mark.parametrize(("option", "text"), BAD_ENV)
def test_a_bad_environment_value_names_variable_value_and_accepted_forms(option: str, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({variable(option): text})
    message = str(caught.value)
    assert message.startswith(f"{variable(option)}={text!r}: expected ")
    assert ACCEPTED[option] in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_the_issues_own_example_message() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"CONNMW_KEEP_ALIVE_TIMEOUT": "soon"})
    assert str(caught.value).startswith(
        "CONNMW_KEEP_ALIVE_TIMEOUT='soon': expected a whole number of seconds >= 1"
    )


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        pytest.param("host, x-foo", "'host' is protected", id="stripping-host-says-host-is-protected"),
        pytest.param("https://a.*.example", "allowed only as the first label", id="a-bad-origin-says-why"),
        pytest.param("example.com", "'example.com' is not an origin", id="a-bad-origin-is-named"),
    ],
)
def test_messages_explain_list_items(text: str, detail: str) -> None:
    name = "CONNMW_STRIP_HEADERS" if "host" in text else "CONNMW_WS_ALLOWED_ORIGINS"
    with pytest.raises(ConfigError, match=detail):
        load_config({name: text})


def test_a_configured_prefix_makes_a_stripped_name_protected() -> None:
    environ = {"CONNMW_STRIP_HEADERS": "x-acme-id", "CONNMW_PROTECTED_HEADERS": "x-acme-*"}
    with pytest.raises(ConfigError) as caught:
        load_config(environ)
    assert str(caught.value).startswith("CONNMW_STRIP_HEADERS='x-acme-id': expected ")


BAD_KEYWORDS = [
    pytest.param("enabled", "maybe", id="enabled-maybe"),
    pytest.param("strict", None, id="strict-none"),
    pytest.param("explicit_keep_alive", 2, id="explicit-keep-alive-two"),
    pytest.param("http10_keep_alive", [], id="http10-keep-alive-a-list"),
    pytest.param("strip_headers", 42, id="strip-headers-a-number"),
    pytest.param("strip_headers", [b"x-a"], id="strip-headers-bytes-items"),
    pytest.param("strip_headers", ["Cookie"], id="strip-headers-a-protected-name"),
    pytest.param("protected_headers", {"x": 1}, id="protected-headers-a-dict"),
    pytest.param("strip_request_headers", "sometimes", id="strip-request-headers-sometimes"),
    pytest.param("max_connection_tokens", True, id="max-connection-tokens-a-bool-is-not-a-number"),
    pytest.param("max_connection_tokens", 1.5, id="max-connection-tokens-a-float"),
    pytest.param("max_connection_tokens", 0, id="max-connection-tokens-zero"),
    pytest.param("ws_validate", "", id="ws-validate-empty"),
    pytest.param("ws_allowed_origins", ["nope"], id="ws-allowed-origins-not-an-origin"),
    pytest.param("http10_buffer_bytes", -1, id="http10-buffer-bytes-negative"),
    pytest.param("drain_file", 42, id="drain-file-a-number"),
    pytest.param("drain_file", ["/var/lib/app/drain"], id="drain-file-a-list"),
    pytest.param("drain_window", float("inf"), id="drain-window-infinite"),
    pytest.param("drain_stream_retry", -1, id="drain-stream-retry-negative"),
    pytest.param("keep_alive_timeout", 0, id="keep-alive-timeout-zero"),
    pytest.param("max_requests_per_connection", "0", id="max-requests-per-connection-zero-text"),
    pytest.param("max_connection_age", -60, id="max-connection-age-negative"),
    pytest.param("ready_path", 8080, id="ready-path-a-number"),
    pytest.param("ready_path", b"/healthz", id="ready-path-bytes"),
    pytest.param("server", None, id="server-none"),
    pytest.param("metrics", None, id="metrics-none-the-object"),
]


def test_every_option_has_a_bad_keyword_value() -> None:
    assert {param.values[0] for param in BAD_KEYWORDS} == set(DEFAULTS)


@pytest.mark.parametrize(("option", "value"), BAD_KEYWORDS)
def test_a_bad_keyword_names_the_keyword_the_value_and_accepted_forms(option: str, value: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({}, **{option: value})
    message = str(caught.value)
    assert message.startswith(f"{option}={value!r}: expected ")
    assert ACCEPTED[option] in message


def test_a_bad_keyword_is_reported_even_when_the_environment_is_good() -> None:
    with pytest.raises(ConfigError, match=r"^keep_alive_timeout=0: "):
        load_config({"CONNMW_KEEP_ALIVE_TIMEOUT": "5"}, keep_alive_timeout=0)


# --------------------------------------------------------------------------------------
# Unknown settings
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "options", "expected"),
    [
        pytest.param(
            {}, {"strictt": True}, "unknown connmw option 'strictt'; did you mean 'strict'?", id="kw-typo"
        ),
        pytest.param(
            {"CONNMW_STRCT": "1"},
            {},
            "unknown variable CONNMW_STRCT; did you mean 'CONNMW_STRICT'?",
            id="env-typo",
        ),
        pytest.param(
            {"CONNMW_KEEPALIVE_TIMEOUT": "5"},
            {},
            "did you mean 'CONNMW_KEEP_ALIVE_TIMEOUT'?",
            id="env-without-the-underscore",
        ),
        pytest.param(
            {"CONNMW_ZZZZZZZZ": "1"},
            {},
            "known: drain_file, drain_stream_retry, drain_window, enabled,",
            id="env-unlike-any-lists-all",
        ),
        pytest.param(
            {}, {"qqqqqqqq": 1}, "unknown connmw option 'qqqqqqqq'; known: ", id="kw-unlike-any-lists-all"
        ),
    ],
)
def test_unknown_settings_are_refused(
    environ: dict[str, str], options: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ, **options)
    assert expected in str(caught.value)


def test_variables_of_other_programs_are_ignored() -> None:
    config = load_config({"PATH": "/usr/bin", "CONNMW": "x", "connmw_strict": "maybe", "XCONNMW_STRICT": "?"})
    assert config == Config()


# --------------------------------------------------------------------------------------
# The object
# --------------------------------------------------------------------------------------


def test_config_is_frozen() -> None:
    config = load_config({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.strict = True  # type: ignore[misc]


def test_config_error_is_a_value_error_and_a_connmw_error() -> None:
    assert issubclass(ConfigError, ValueError)
    assert issubclass(ConfigError, ConnmwError)


def test_the_policy_follows_the_config() -> None:
    config = load_config(
        {
            "CONNMW_EXPLICIT_KEEP_ALIVE": "0",
            "CONNMW_HTTP10_KEEP_ALIVE": "1",
            "CONNMW_STRIP_HEADERS": "Server",
            "CONNMW_PROTECTED_HEADERS": "x-acme-*",
            "CONNMW_MAX_CONNECTION_TOKENS": "3",
            "CONNMW_KEEP_ALIVE_TIMEOUT": "7",
            "CONNMW_WS_ALLOWED_ORIGINS": "https://*.example.com",
        }
    )
    policy = config.policy()
    assert (policy.explicit_keep_alive, policy.http10_keep_alive) == (False, True)
    assert (policy.max_connection_tokens, policy.keep_alive_timeout) == (3, 7)
    assert (policy.kind_of(b"server"), policy.kind_of(b"x-acme-id")) == (HOP, ORDINARY)
    assert policy.is_protected(b"x-acme-id")
    assert policy.origins.allows(b"https://app.example.com")
    assert not policy.origins.allows(b"https://evil.example")


def test_describe_options_documents_every_setting() -> None:
    rows = describe_options()
    assert [keyword for _, keyword, _, _ in rows] == list(config_module._OPTIONS)
    assert {keyword for _, keyword, _, _ in rows} == set(DEFAULTS)
    for name, keyword, default, accepted in rows:
        assert name == variable(keyword)
        assert default == repr(DEFAULTS[keyword])
        assert accepted

"""Format-independent detectors: key blocks, credentials in URLs and headers, assignments.

These find a secret by what surrounds it (``password=``, ``Authorization:``, ``user:pass@``)
and filter out the values that documentation and templates use instead of secrets.
"""

from __future__ import annotations

from copilot.redact.rules import Rule, compile_rule

# Templates, references and masks: never a secret, whatever the context.
TEMPLATE_ALLOW: tuple[str, ...] = (
    r"^[${<\[`(]",  # ${VAR} $VAR {{ x }} <your token> [PASSWORD] `cmd` (...)
    r"\$\{|\{\{|\$\(|<[A-Za-z_ -]+>",
    r"^%(?:[\w.-]+%|\([\w.-]+\)[sdr])$",  # %VAR% or %(name)s, only as the WHOLE value
    r"xxxxx|XXXXX|\*\*\*|\.\.\.|####|•••|EXAMPLE",
)
# A reference to a secret in a secret store (``secret:orders-db-password``,
# ``secret:PAYMENTS_PASSWORD``): what tools take instead of a secret. Its name is words in
# one case joined by - _ . or /, so a value such as ``secret:hunter2hunter2`` is no reference.
SECRET_REFERENCE = (
    r"secret:(?-i:[a-z][a-z0-9]*(?:[-_./][a-z][a-z0-9]*)+|[A-Z][A-Z0-9]*(?:[-_./][A-Z][A-Z0-9]*)+)"
    r"(?![\w./-])"
)
# Values that stand in for a secret: templates, masks, references, type names.
VALUE_ALLOW: tuple[str, ...] = (
    *TEMPLATE_ALLOW,
    "^" + SECRET_REFERENCE,
    r"(?i)^(?:change_?me|change_?it|passw(?:or)?d|secret|token|redacted|placeholder|example"
    r"|sample|dummy|fake|test(?:ing)?|null|nil|none|true|false|yes|no|undefined|empty"
    r"|required|optional|string|str|int|integer|bool|boolean|object|hidden|masked|todo|tbd"
    r"|foo|bar|baz|your[_-]?\w*|my[_-]?(?:password|secret|token|key)\w*)$",
    r"^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+$",  # var.db_password, settings.token
    r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$",  # DB_PASSWORD: a variable's name, not its value
    r"^[a-z][a-z0-9+.-]*://",  # a URL (credentials inside one have their own rule)
    r"^(?:/|\./|~/)",  # a file path
)

# Key names whose value is a secret. Suffixes that make the key about the secret rather than
# the secret itself (secretName, token_url, password_file...) are excluded.
_NOT_VALUE = (
    r"(?![\w.-]{0,25}?(?i:name|ref|path|file|type|url|uri|endpoint|length|expir|ttl|count"
    r"|header|field|mount|dir|version|algorithm|policy|usage|method|format|size|limit"
    r"|prompt|hint|reset|_id\b|id\b))"
)
# (``secret`` starting a reference is not a key: ``secret:orders-db-password`` names one.)
_PASSWORD_KEY = (
    r"(?i:pass(?:wd|word|phrase)?|pwd|secret(?!"
    + SECRET_REFERENCE.removeprefix("secret")
    + r")|credentials?)"
)
# Matched at "token" / "auth" / "client secret" / "key", the word before a key checked
# behind it: three times faster than an alternation of whole names (one literal to find).
_TOKEN_KEY = (
    r"(?:(?i:token|auth(?!or)|client[_.-]?secret)|(?i:key)(?<=(?i:(?:api|access|auth|private"
    r"|signing|encryption|master|license|session)[_.-]?key)|[a-z0-9]Key|[A-Z0-9]_KEY|_key))"
)
# key["']?  :  =  :=  ::=  ?=  =>   then an optional (escaped) quote
_SEP = r"[\w.-]{0,25}?\\?[\"']?\s*(?:[:?]{0,3}=>?|:)\s*"
# the value: quoted (escaped quotes too) or bare up to a delimiter; never a function call
_VALUE = (
    r"(?:\\?\"(?P<s>[^\"\\\n]{{{n},300}})\\?\"|'(?P<s>[^'\n]{{{n},300}})'"
    r"|(?P<s>[^\s\"'`,;<>(){{}}\[\]]{{{n},300}})(?![(\w]))"
)

# A private key block. Its line breaks may be real (LF, CRLF), spaces, none at all, or
# escaped once or more by JSON inside JSON (``\\n``, ``\\\\n``); JSON may escape ``/`` too.
_PEM_BEGIN = r"-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----"
_PEM_BREAK = r"(?:\s|\\+[nrt])"
# (never across five dashes: the body ends at the next BEGIN or END line, so a text full of
# BEGIN lines without END is read once, not once per BEGIN)
_PEM_BODY = r"(?:[A-Za-z0-9+/=:,\s]|-(?!----)|\\+[nrt/])"
# Without its END: header lines (Proc-Type: ..., Version: ...), then base64 chunks of 16 or
# more characters, and one shorter last chunk where the block was cut -- never a word of
# the text after it (a short chunk must end its line, its string or the text).
_PEM_B64 = r"(?:[A-Za-z0-9+/=]|\\+/)"
_PEM_CUT = (
    r"(?:[A-Za-z][\w-]{1,30}:[^\r\n\\\"']*+" + _PEM_BREAK + r"++)*+"
    r"(?:" + _PEM_B64 + r"{16,}+(?:" + _PEM_BREAK + r"*+" + _PEM_B64 + r"{16,}+)*+)?+"
    r"(?:" + _PEM_BREAK + r"*+" + _PEM_B64 + r"{1,15}+(?=[\r\n\"']|\\+[nr]|$))?+"
)

# The kind line of a Kubernetes Secret, in YAML (list items too) or JSON.
_SECRET_KIND = r"[ \t]*(?:-[ \t]+)?[\"']?kind[\"']?:[ \t]*[\"']?Secret\b"


def _assignment(
    rid: str, key: str, min_len: int, entropy: float, keywords: tuple[str, ...], description: str
) -> Rule:
    return compile_rule(
        rid,
        key + _NOT_VALUE + _SEP + _VALUE.format(n=min_len),
        group="s",
        keywords=keywords,
        entropy=entropy,
        allow=VALUE_ALLOW,
        description=description,
    )


GENERIC_RULES: tuple[Rule, ...] = (
    compile_rule(
        "private-key",
        _PEM_BEGIN
        + r"(?:(?P<body>"
        + _PEM_BODY
        + r"{16,}?)"
        + _PEM_END
        # cut off before its END line (a truncated log line): to the end of its base64 run
        + r"|"
        + _PEM_BREAK
        + r"*+(?P<body>"
        + _PEM_CUT
        + r"))",
        group="body",
        keywords=("private key",),
        description="PEM / OpenSSH / PGP private key block: line breaks real, JSON-escaped"
        " once or twice, CRLF, spaces or none; a block cut off before END to its base64's end",
    ),
    compile_rule(
        "url-credentials",
        r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/?#@\"'<>]{0,100}:(?P<pw>[^\s/?#@\"'<>]{1,200})@",
        group="pw",
        keywords=("://",),
        allow=TEMPLATE_ALLOW,
        description="password in scheme://user:password@host",
    ),
    compile_rule(
        "curl-user",
        r"\bcurl\b[^\n]*?\s(?:-u|--user)\s+(?P<cred>(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'])+)",
        group="cred",
        keywords=("curl",),
        entropy=3.0,
        allow=(
            r"^[^:]*$",  # no password part: the username alone
            r"\$\{|\$\(|\$[A-Za-z_]|\{\{|<|\[|(?:^|:)[\"']?\$",
            r"(?i)^[\"']?(?:user(?:name)?|test|admin|login)[\"']?:[\"']?"
            r"(?:pass(?:word)?|token|secret|test)[\"']?$",
        ),
        description="curl -u / --user user:password",
    ),
    compile_rule(
        "authorization-header",
        r"(?i)\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
        r"(?:(?:bearer|basic|token|api-token|apikey|digest|sso-key|key)\s+)?"
        r"(?!(?:bearer|basic|token|digest|negotiate)\b)(?P<cred>[A-Za-z0-9_+/.~@=:-]{8,})",
        group="cred",
        keywords=("authorization",),
        entropy=2.5,
        allow=TEMPLATE_ALLOW,
        description="Authorization header credentials (Bearer, Basic, Token, bare)",
    ),
    compile_rule(
        "http-token-header",
        r"(?i)(?<![\w.-])(?:[a-z0-9]+-){0,4}[a-z0-9]*"
        r"(?:token|api-?key|access-?key|auth-?key|subscription-key)"
        r":[ \t]*(?:(?:bearer|token)[ \t]+)?[\"']?"
        r"(?P<s>(?=[^\s\"',;]*\d)[A-Za-z0-9_+/.~=:@!#$%*&^-]{8,300})",
        group="s",
        keywords=("token:", "key:"),
        entropy=2.5,
        allow=VALUE_ALLOW,
        description="token-carrying HTTP headers: Token, X-Api-Key, X-Auth-Token, Private-Token,"
        " X-Vault-Token, Ocp-Apim-Subscription-Key ... (value holds a digit)",
    ),
    compile_rule(
        "cli-secret-flag",
        r"(?i)(?:^|\s)--?(?:password|passwd|token|api-key|apikey|secret|client-secret"
        r"|auth-token|access-token)(?:=|\s+)[\"']?(?P<s>[^\s\"']{6,})",
        group="s",
        keywords=("-password", "-passwd", "-token", "-api-key", "-apikey", "-secret"),
        entropy=2.5,
        allow=VALUE_ALLOW,
        description="--password / --token command-line flags",
    ),
    compile_rule(
        "cli-password-short-flag",
        r"(?:\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n]*?\s-p(?P<s>[^\s\"'][^\s\"']{3,})"
        r"|\bredis-cli\b[^\n]*?\s-a\s+[\"']?(?P<s>[^\s\"'-][^\s\"']{3,})"
        r"|\b(?:docker|podman|buildah|skopeo|nerdctl|helm\s+registry)\s+login\b[^\n]*?"
        r"\s-p\s+[\"']?(?P<s>[^\s\"'-][^\s\"']{3,})"
        r"|\bsshpass\s+-p\s*[\"']?(?P<s>[^\s\"'-][^\s\"']{3,}))",
        group="s",
        keywords=("mysql", "mariadb", "redis-cli", " login", "sshpass"),
        allow=TEMPLATE_ALLOW,
        description="passwords in short flags: mysql -pPASS, redis-cli -a, docker login -p,"
        " sshpass -p",
    ),
    compile_rule(
        "session-cookie",
        # from the header (or the end of the previous finding), skip the other cookies
        r"(?i)(?:(?<=cookie[\"']?[ \t]*[:=]|\s(?:-b|--cookie)[ \t]+)|\G(?<=[^\n]))"
        r"(?:[ \t]*[\"']?[^;,\s\"'=]{1,200}=[^;,\s\"']{0,4000}[\"']?[ \t]*[;,])*?[ \t]*[\"']?"
        r"[\w.-]{0,80}(?:sess|sid|token|auth|jwt|remember|login|csrf|xsrf)[\w.-]{0,80}="
        r"[\"']?(?P<s>[^;,\s\"']{8,4000})",
        group="s",
        keywords=("cookie", " -b "),
        entropy=3.0,
        allow=TEMPLATE_ALLOW,
        description="session, auth and CSRF cookies: Cookie / Set-Cookie headers, curl -b",
    ),
    compile_rule(
        "xml-secret-element",
        r"(?i)<(password|passwd|secret|token|apikey|api-key|client-secret)>"
        r"(?P<s>[^<\s]{4,300})</\1>",
        group="s",
        keywords=(
            "<password>",
            "<passwd>",
            "<secret>",
            "<token>",
            "<apikey>",
            "<api-key>",
            "<client-secret>",
        ),
        allow=VALUE_ALLOW,
        description="<password>...</password> in XML configuration",
    ),
    compile_rule(
        "xml-add-key-password",
        r"(?i)<add\s+key=[\"'][\w.-]*(?:password|secret|token|apikey)[\w.-]*[\"']\s+"
        r"value=[\"'](?P<s>[^\"']{4,300})[\"']",
        group="s",
        keywords=("<add",),
        allow=VALUE_ALLOW,
        description='<add key="...Password" value="..."/> (NuGet.config, app.config)',
    ),
    _assignment(
        "password-assignment",
        _PASSWORD_KEY,
        6,
        2.3,
        ("pass", "pwd", "secret", "credential"),
        "password / secret assigned in env, JSON, YAML, INI, code",
    ),
    _assignment(
        "token-assignment",
        _TOKEN_KEY,
        10,
        3.0,
        ("token", "key", "auth"),
        "token / API key assigned in env, JSON, YAML, INI, code (high entropy)",
    ),
    compile_rule(
        "kubernetes-secret-data",
        r"(?m)^[ \t]+[\"']?[\w.-]+[\"']?:[ \t]*[\"']?"
        r"(?P<v>(?=\S*[a-z])(?=\S*[A-Z])(?=\S*[0-9+/=])"
        r"(?=[A-Za-z0-9+/=]{8})(?:[A-Za-z0-9+/]{4})++(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)"
        r"[\"']?,?[ \t]*$"
        # ... in a Secret: its kind within 100 lines before or after (kubectl prints data
        # before kind, manifests kind before data); a ConfigMap's base64 stays.
        r"(?:(?=(?:\n[^\n]*){0,100}?\n" + _SECRET_KIND + r")"
        r"|(?<=" + _SECRET_KIND + r"[^\n]*(?:\n[^\n]*){1,100}?))",
        group="v",
        keywords=("data:", '"data":', "kind: secret", '"kind": "secret"'),
        entropy=2.8,
        description="base64 value in a Kubernetes Secret's data (kubectl get secret -o yaml/json)",
    ),
)

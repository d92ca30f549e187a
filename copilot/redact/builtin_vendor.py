"""Vendor token formats: prefixes and shapes that a provider documents for its credentials.

Each pattern is written from the token format (prefix, alphabet, length), not from any other
tool's rule file. A token must stand alone: the characters around it may not continue it.
"""

from __future__ import annotations

from copilot.redact.builtin_generic import TEMPLATE_ALLOW
from copilot.redact.builtin_saas import SAAS_TOKENS, TokenSpecs
from copilot.redact.rules import Rule, compile_rule

# Not preceded or followed by a character that would make the match part of a longer token.
# A path (/tmp/ghp_...) or an id (inc-AKIA...) in front of a prefixed token leaves it
# standing alone; a letter, digit, "_", "." or "+" continues it (allowing "." too added a
# false positive on the public corpus and caught nothing more there).
_L = r"(?<![A-Za-z0-9_.+])"
_R = r"(?![A-Za-z0-9_-])"

# Masked or templated values that documentation uses in place of a real token.
PLACEHOLDER = (r"xxxxx|XXXXX|\*\*\*\*|####|\.\.\.|\$\{|\{\{|<[^>]*>",)

# (id, pattern, prefilter keywords, minimum entropy or None, description): cloud, VCS, CI
_CLOUD_TOKENS: TokenSpecs = (
    # --- cloud ----------------------------------------------------------------------------
    (
        "aws-access-key-id",
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z2-7]{16}",
        (
            "akia",
            "asia",
            "abia",
            "acca",
            "a3t",
            "agpa",
            "aida",
            "aroa",
            "aipa",
            "anpa",
            "anva",
            "apka",
        ),
        3.0,
        "AWS access key id",
    ),
    (
        "aws-bedrock-api-key",
        r"ABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{80,280}={0,2}",
        ("absk",),
        3.0,
        "Amazon Bedrock long-lived API key (base64 of 'BedrockAPIKey-...')",
    ),
    (
        "aws-bedrock-api-key-short",
        r"bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/=%]*",
        ("bedrock-api-key-",),
        None,
        "Amazon Bedrock short-lived key (a presigned URL, base64)",
    ),
    ("gcp-api-key", r"AIza[A-Za-z0-9_-]{35}", ("aiza",), 3.0, "Google API key"),
    (
        "gcp-oauth-client-secret",
        r"GOCSPX-[A-Za-z0-9_-]{28}",
        ("gocspx-",),
        3.0,
        "Google OAuth client secret",
    ),
    (
        "gcp-oauth-access-token",
        r"ya29\.[A-Za-z0-9_-]{30,}",
        ("ya29.",),
        3.0,
        "Google OAuth access token",
    ),
    ("alibaba-access-key-id", r"LTAI[A-Za-z0-9]{12,20}", ("ltai",), 3.0, "Alibaba Cloud key id"),
    ("digitalocean-token", r"do[opr]_v1_[a-f0-9]{64}", ("_v1_",), 3.0, "DigitalOcean token"),
    (
        "cloudflare-origin-ca-key",
        r"v1\.0-[a-f0-9]{24}-[a-f0-9]{100,200}",
        ("v1.0-",),
        3.0,
        "Cloudflare Origin CA key",
    ),
    ("heroku-api-key-v2", r"HRKU-AA[A-Za-z0-9_-]{58}", ("hrku-",), 3.0, "Heroku API key"),
    ("scalingo-api-token", r"tk-us-[A-Za-z0-9_-]{48}", ("tk-us-",), 3.0, "Scalingo API token"),
    ("supabase-token", r"sbp_[a-f0-9]{40}", ("sbp_",), 3.0, "Supabase access token"),
    ("fly-io-token", r"fo1_[A-Za-z0-9_-]{43}", ("fo1_",), 3.0, "Fly.io token"),
    (
        "planetscale-token",
        r"pscale_(?:pw|tkn|oauth)_[A-Za-z0-9_.=-]{32,64}",
        ("pscale_",),
        3.0,
        "PlanetScale password or token",
    ),
    (
        "clickhouse-cloud-api-secret",
        r"4b1d[A-Za-z0-9]{38}",
        ("4b1d",),
        3.5,
        "ClickHouse Cloud API secret key",
    ),
    ("databricks-api-token", r"dapi[a-f0-9]{32}(?:-\d)?", ("dapi",), 3.0, "Databricks token"),
    (
        "doppler-token",
        r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}",
        ("dp.",),
        3.0,
        "Doppler token",
    ),
    (
        "dynatrace-api-token",
        r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}",
        ("dt0c01.",),
        3.0,
        "Dynatrace API token",
    ),
    (
        "tailscale-key",
        r"tskey-[a-z]+-[A-Za-z0-9]{8,}-[A-Za-z0-9]{16,}",
        ("tskey-",),
        3.0,
        "Tailscale key",
    ),
    # --- VCS, CI and package registries ---------------------------------------------------
    (
        "github-token",
        r"gh[pousr]_[A-Za-z0-9]{36,251}",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        3.0,
        "GitHub token (personal, OAuth, user-to-server, server-to-server, refresh)",
    ),
    (
        "github-fine-grained-pat",
        r"github_pat_[A-Za-z0-9_]{60,255}",
        ("github_pat_",),
        3.0,
        "GitHub fine-grained personal access token",
    ),
    (
        "gitlab-token",
        r"(?:glpat|gldt|glptt|glrt|glrtr|glcbt|glimt|glagent|glsoat|glffct|glft|gloas|glwt)"
        r"-[A-Za-z0-9_.-]{20,300}",
        (
            "glpat-",
            "gldt-",
            "glptt-",
            "glrt-",
            "glrtr-",
            "glcbt-",
            "glimt-",
            "glagent-",
            "glsoat-",
            "glffct-",
            "glft-",
            "gloas-",
            "glwt-",
        ),
        3.0,
        "GitLab token",
    ),
    (
        "gitlab-runner-registration-token",
        r"GR1348941[A-Za-z0-9_-]{20}",
        ("gr1348941",),
        3.0,
        "GitLab runner registration token",
    ),
    ("bitbucket-token", r"ATBB[A-Za-z0-9_=.-]{32,}", ("atbb",), 3.5, "Bitbucket app password"),
    (
        "atlassian-api-token",
        r"ATATT3[A-Za-z0-9_=-]{150,300}",
        ("atatt3",),
        3.5,
        "Atlassian API token",
    ),
    ("npm-access-token", r"npm_[A-Za-z0-9]{36}", ("npm_",), 3.0, "npm access token"),
    (
        "pypi-upload-token",
        r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}",
        ("pypi-",),
        3.0,
        "PyPI upload token",
    ),
    ("rubygems-api-token", r"rubygems_[a-f0-9]{48}", ("rubygems_",), 3.0, "RubyGems token"),
    ("docker-hub-pat", r"dckr_pat_[A-Za-z0-9_-]{27}", ("dckr_pat_",), 3.0, "Docker Hub PAT"),
    ("buildkite-token", r"bkua_[a-f0-9]{40}", ("bkua_",), 3.0, "Buildkite token"),
    ("artifactory-api-key", r"AKCp[A-Za-z0-9]{69}", ("akcp",), 3.0, "JFrog Artifactory key"),
    (
        "artifactory-reference-token",
        r"cmVmdGtu[A-Za-z0-9]{56}",
        ("cmvmdgtu",),
        3.0,
        "JFrog reference token",
    ),
    ("sonar-token", r"sq[pua]_[A-Za-z0-9]{40}", ("sqp_", "squ_", "sqa_"), 3.0, "SonarQube"),
    (
        "sourcegraph-token",
        r"sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}",
        ("sgp_",),
        3.0,
        "Sourcegraph access token",
    ),
    (
        "hashicorp-tf-api-token",
        r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}",
        ("atlasv1",),
        3.0,
        "Terraform Cloud / Enterprise API token",
    ),
    (
        "vault-token",
        r"hv[sbr]\.[A-Za-z0-9_-]{90,}",
        ("hvs.", "hvb.", "hvr."),
        3.5,
        "HashiCorp Vault token",
    ),
    (
        "vault-legacy-token",
        r"s\.(?=[A-Za-z0-9]{0,23}\d)(?=[A-Za-z0-9]{0,23}[a-z])(?=[A-Za-z0-9]{0,23}[A-Z])"
        r"[A-Za-z0-9]{24}",
        ("s.",),
        3.5,
        "HashiCorp Vault service token (legacy s. form)",
    ),
    ("pulumi-api-token", r"pul-[a-f0-9]{40}", ("pul-",), 3.0, "Pulumi access token"),
    ("octopus-deploy-api-key", r"API-[A-Z0-9]{26}", ("api-",), 3.0, "Octopus Deploy API key"),
    ("prefect-api-token", r"pnu_[A-Za-z0-9]{36}", ("pnu_",), 3.0, "Prefect API key"),
    ("infracost-api-token", r"ico-[A-Za-z0-9]{32}", ("ico-",), 3.0, "Infracost API key"),
)

_AWS_EXAMPLES = (r"EXAMPLE(?:KEY)?$",)


_TOKENS: TokenSpecs = (*_CLOUD_TOKENS, *SAAS_TOKENS)


def _token_rules() -> list[Rule]:
    out = []
    for rid, pattern, keywords, entropy, desc in _TOKENS:
        allow = PLACEHOLDER + (_AWS_EXAMPLES if rid.startswith("aws-") else ())
        out.append(
            compile_rule(
                rid,
                f"{_L}(?:{pattern}){_R}",
                keywords=keywords,
                entropy=entropy,
                allow=allow,
                description=desc,
            )
        )
    return out


# Tokens whose surroundings matter (own boundaries, or the secret is one group of the match).
_CONTEXTUAL = (
    compile_rule(
        "azure-ad-client-secret",
        r"(?<![A-Za-z0-9_~.-])([A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})(?![A-Za-z0-9_~.-])",
        group=1,
        keywords=("q~",),
        entropy=3.0,
        allow=PLACEHOLDER,
        description="Microsoft Entra ID (Azure AD) client secret ('xxxNQ~' shape)",
    ),
    compile_rule(
        "azure-storage-account-key",
        r"(?i:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{40,}={0,2})",
        group=1,
        keywords=("accountkey=", "sharedaccesskey="),
        entropy=3.5,
        description="Azure storage / Service Bus key in a connection string",
    ),
    compile_rule(
        "azure-sas-signature",
        r"[?&;]sig=([A-Za-z0-9%+/=]{20,})",
        group=1,
        keywords=("sig=",),
        entropy=3.0,
        description="Azure shared access signature (sig= of a SAS URL)",
    ),
    compile_rule(
        "aws-secret-access-key",
        r"(?i:aws[\w.-]{0,30}?secret[\w.-]{0,20}|secret_?access_?key)[\"']?"
        r"(?:\s*(?:[:=]|=>)\s*|[ \t]+)[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        group=1,
        keywords=("secret",),
        entropy=3.5,
        allow=_AWS_EXAMPLES,
        description="AWS secret access key next to its name (aws configure set ... too)",
    ),
    compile_rule(
        "slack-webhook-url",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9+/_-]{20,})",
        group=1,
        keywords=("hooks.slack.com",),
        description="Slack incoming webhook URL (the path is the secret)",
    ),
    compile_rule(
        "microsoft-teams-webhook",
        r"(?:\.webhook\.office\.com/webhookb2|outlook\.office\.com/webhook)/([^\s\"'<>]{20,})",
        group=1,
        keywords=("webhook.office.com", "outlook.office.com/webhook"),
        description="Microsoft Teams incoming webhook URL",
    ),
    compile_rule(
        "discord-webhook",
        r"discord(?:app)?\.com/api/webhooks/\d+/([A-Za-z0-9_-]{60,})",
        group=1,
        keywords=("/api/webhooks/",),
        description="Discord webhook URL",
    ),
    compile_rule(
        "bundler-credentials",
        # BUNDLE_<HOST>=user:password, the host with "." written "__" (Sidekiq Pro and
        # Enterprise: BUNDLE_GEMS__CONTRIBSYS__COM); not Bundler's own BUILD__/MIRROR__ ...
        r"\bBUNDLE_(?!(?:BUILD|MIRROR|LOCAL|DISABLE|SSL|CACHE|SPECIFIC|PATH)[_A-Z]*__)"
        r"[A-Z0-9-]+(?:__[A-Z0-9-]+)+[\s:=\\\"']+"
        r"(?P<cred>[^\s:\\\"'/]+:[^\s\\\"';&/]+)",
        group="cred",
        keywords=("bundle_",),
        allow=TEMPLATE_ALLOW,
        description="Bundler gem-server credentials in BUNDLE_<HOST> (Sidekiq Pro/Enterprise)",
    ),
    compile_rule(
        "freemius-secret-key",
        # sk_ + 29 printable characters holding a symbol, both cases and a digit (the public
        # key is pk_ + hex); the symbols rule out words and identifiers such as sk_my_key.
        r"(?<![\w-])(?P<s>sk_(?=[!#-&(-\[\]-_a-~]{0,28}[^\w\s\"'`\\])(?=[!#-&(-\[\]-_a-~]{0,28}[A-Z])"
        r"(?=[!#-&(-\[\]-_a-~]{0,28}[a-z])(?=[!#-&(-\[\]-_a-~]{0,28}\d)"
        r"[!#-&(-\[\]-_a-~]{29})(?=[\s\"'`\\]|$)",
        group="s",
        keywords=("sk_",),
        entropy=3.5,
        description="Freemius secret key (sk_ + 29 printable characters)",
    ),
    compile_rule(
        "messagebird-credential",
        r"(?i:message[_.-]?bird[\w.-]{0,20}?(?:client[_.-]?id|api[_.-]?key|access[_.-]?key"
        r"|token|key))[\"']?\s*(?:[:?]{0,3}=>?|:)\s*[\"']?([A-Za-z0-9_-]{25,40})(?![\w-])",
        group=1,
        keywords=("messagebird", "message_bird", "message-bird", "message.bird"),
        entropy=3.0,
        allow=PLACEHOLDER,
        description="MessageBird API key or client id next to its name",
    ),
    compile_rule(
        "sumologic-access-id",
        r"(?i:sumo[\w.-]{0,20}?access[_.-]?id)[\"']?\s*[:=]\s*[\"']?(su[A-Za-z0-9]{12})(?![\w-])",
        group=1,
        keywords=("sumo",),
        entropy=3.0,
        description="Sumo Logic access id next to its name",
    ),
    compile_rule(
        "sourcegraph-legacy-token",
        r"(?i:sourcegraph[\w.-]{0,20})[\"']?\s*[:=]\s*[\"']?([a-fA-F0-9]{40})(?![\w-])",
        group=1,
        keywords=("sourcegraph",),
        entropy=3.0,
        description="Sourcegraph token (40 hex) next to its name",
    ),
    compile_rule(
        "sonar-login",
        r"(?i:sonar[\w.-]{0,10}(?:login|token))[\"']?\s*(?:[:?]{0,3}=|:)\s*[\"']?"
        r"([A-Za-z0-9_]{40,44})(?![\w-])",
        group=1,
        keywords=("sonar",),
        entropy=3.0,
        description="SonarQube token in sonar.login / SONAR_TOKEN",
    ),
)

VENDOR_RULES: tuple[Rule, ...] = (*_token_rules(), *_CONTEXTUAL)

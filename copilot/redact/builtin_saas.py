"""Vendor token formats, part two: chat, observability, payments, e-mail, AI providers, JWT.

Same shape as ``builtin_vendor._CLOUD_TOKENS``; compiled (with boundaries and placeholder
filters) by ``builtin_vendor``.
"""

from __future__ import annotations

# (id, pattern, prefilter keywords, minimum entropy or None, description)
TokenSpecs = tuple[tuple[str, str, tuple[str, ...], float | None, str], ...]

SAAS_TOKENS: TokenSpecs = (
    # --- chat and collaboration -----------------------------------------------------------
    (
        "slack-token",
        r"xox[abposre]-(?:\d-)?\d{6,14}-(?:\d{6,14}-){0,3}[A-Za-z0-9]{8,}",
        ("xox",),
        2.5,
        "Slack bot, user, workspace or legacy token",
    ),
    (
        "slack-config-token",
        r"xoxe(?:\.xox[bp])?-\d-[A-Za-z0-9]{100,}",
        ("xoxe",),
        3.5,
        "Slack app configuration access or refresh token",
    ),
    (
        "slack-app-token",
        r"xapp-\d-[A-Z0-9]{9,12}-\d{10,14}-[a-f0-9]{32,}",
        ("xapp-",),
        3.0,
        "Slack app-level token",
    ),
    ("telegram-bot-token", r"\d{8,10}:AA[A-Za-z0-9_-]{33}", (":aa",), 3.0, "Telegram bot token"),
    ("notion-api-token", r"ntn_\d{11}[A-Za-z0-9]{35}", ("ntn_",), 3.0, "Notion integration"),
    ("linear-api-key", r"lin_api_[A-Za-z0-9]{40}", ("lin_api_",), 3.0, "Linear API key"),
    ("grafana-cloud-token", r"glc_[A-Za-z0-9+/]{32,400}={0,2}", ("glc_",), 3.5, "Grafana Cloud"),
    (
        "grafana-service-account-token",
        r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}",
        ("glsa_",),
        3.0,
        "Grafana service account token",
    ),
    (
        "sentry-token",
        r"sntrys_eyJ[A-Za-z0-9+/=]{30,400}_[A-Za-z0-9+/]{43}|sntryu_[a-f0-9]{64}",
        ("sntrys_", "sntryu_"),
        3.0,
        "Sentry organisation or user token",
    ),
    (
        "onepassword-service-account-token",
        r"ops_eyJ[A-Za-z0-9+/_-]{100,}={0,3}",
        ("ops_eyj",),
        3.5,
        "1Password service account token",
    ),
    (
        "onepassword-secret-key",
        r"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}"
        r"-[A-Z0-9]{5}",
        ("a3-",),
        3.0,
        "1Password account secret key",
    ),
    (
        "age-secret-key",
        r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        ("age-secret-key-1",),
        None,
        "age encryption secret key",
    ),
    # --- payments, e-mail, telephony ------------------------------------------------------
    (
        "stripe-secret-key",
        r"(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{20,247}",
        ("sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_"),
        3.0,
        "Stripe secret or restricted key",
    ),
    ("stripe-webhook-secret", r"whsec_[A-Za-z0-9]{32,}", ("whsec_",), 3.0, "Stripe webhook"),
    (
        "square-token",
        r"sq0(?:atp|csp)-[A-Za-z0-9_-]{22,43}|EAAA[A-Za-z0-9_-]{60,70}",
        ("sq0atp-", "sq0csp-", "eaaa"),
        3.0,
        "Square access token or application secret",
    ),
    ("facebook-access-token", r"EAA[A-Za-z0-9]{90,}", ("eaa",), 3.5, "Facebook / Meta token"),
    (
        "facebook-app-token",
        r"\d{15,16}(?:\||%7C)[A-Za-z0-9_-]{27,40}",
        ("|", "%7c"),
        3.0,
        "Facebook app access token (app-id|secret)",
    ),
    (
        "shopify-token",
        r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
        ("shpat_", "shpca_", "shppa_", "shpss_"),
        3.0,
        "Shopify token or shared secret",
    ),
    (
        "flutterwave-secret-key",
        r"FLWSECK(?:_TEST)?-[a-h0-9]{32}-X",
        ("flwseck",),
        3.0,
        "Flutterwave secret key",
    ),
    ("duffel-api-token", r"duffel_(?:test|live)_[A-Za-z0-9_=-]{43}", ("duffel_",), 3.0, "Duffel"),
    ("shippo-api-token", r"shippo_(?:live|test)_[a-f0-9]{40}", ("shippo_",), 3.0, "Shippo"),
    ("easypost-api-token", r"EZ[AT]K[A-Za-z0-9]{54}", ("ezak", "eztk"), 3.0, "EasyPost key"),
    ("sendgrid-api-key", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", ("sg.",), 3.0, "SendGrid"),
    ("mailgun-api-key", r"key-[a-f0-9]{32}", ("key-",), 3.0, "Mailgun API key"),
    ("mailchimp-api-key", r"[a-f0-9]{32}-us\d{1,2}", ("-us",), 3.0, "Mailchimp API key"),
    ("twilio-api-key", r"SK[0-9a-f]{32}", ("sk",), 3.0, "Twilio API key SID + secret pair"),
    ("postman-api-token", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ("pmak-",), 3.0, "Postman"),
    (
        "new-relic-key",
        r"NR(?:AK|II|JS)-[A-Za-z0-9]{27}",
        ("nrak-", "nrii-", "nrjs-"),
        3.0,
        "New Relic key",
    ),
    ("typeform-api-token", r"tfp_[A-Za-z0-9_.=-]{59}", ("tfp_",), 3.0, "Typeform token"),
    ("frameio-api-token", r"fio-u-[A-Za-z0-9_=-]{64}", ("fio-u-",), 3.0, "Frame.io token"),
    ("readme-api-token", r"rdme_[a-z0-9]{70}", ("rdme_",), 3.0, "ReadMe API key"),
    ("maxmind-license-key", r"[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk", ("_mmk",), 3.0, "MaxMind"),
    ("intra42-client-secret", r"s-s4t2(?:ud|af)-[a-f0-9]{64}", ("s-s4t2",), 3.0, "42 Intra"),
    # --- AI providers ---------------------------------------------------------------------
    (
        "openai-api-key",
        r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,300}",
        ("sk-proj-", "sk-svcacct-", "sk-admin-"),
        3.5,
        "OpenAI project, service-account or admin key",
    ),
    (
        "openai-legacy-api-key",
        r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}",
        ("t3blbkfj",),
        3.5,
        "OpenAI legacy user key (carries the base64 'OpenAI' marker)",
    ),
    (
        "anthropic-api-key",
        r"sk-ant-(?:api|admin|oat|sid)\d\d-[A-Za-z0-9_-]{80,120}AA",
        ("sk-ant-",),
        3.5,
        "Anthropic API or admin key",
    ),
    ("groq-api-key", r"gsk_[A-Za-z0-9]{52}", ("gsk_",), 3.5, "Groq API key"),
    ("xai-api-key", r"xai-[A-Za-z0-9]{80}", ("xai-",), 3.5, "xAI API key"),
    ("replicate-api-token", r"r8_[A-Za-z0-9]{37}", ("r8_",), 3.5, "Replicate API token"),
    ("perplexity-api-key", r"pplx-[A-Za-z0-9]{48}", ("pplx-",), 3.5, "Perplexity API key"),
    (
        "huggingface-token",
        r"(?:hf|api_org)_[A-Za-z0-9]{34}",
        ("hf_", "api_org_"),
        3.5,
        "Hugging Face user or organisation token",
    ),
    (
        "langsmith-api-key",
        r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}",
        ("lsv2_",),
        3.0,
        "LangSmith API key",
    ),
    ("openshift-user-token", r"sha256~[A-Za-z0-9_-]{43}", ("sha256~",), 3.0, "OpenShift token"),
    # --- JSON Web Tokens ------------------------------------------------------------------
    (
        "jwt",
        r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
        ("eyj",),
        None,
        "JSON Web Token (header.payload.signature)",
    ),
)

// The built-in secret rules. Written for SecPlat (not copied from any other tool's rule file).
//
// Conventions: group 1 is the secret; "context" rules require a provider keyword before an
// assignment because the token shape alone (hex, uuid) is too common; value classes are
// case-sensitive (keywords use scoped (?i:...)); end boundaries are explicit classes because
// tokens may end in '-' or '_', where \b does not apply.
#include "scanners/secrets/secret_rule.h"

#include <string>
#include <utility>

namespace secplat::scanners::secrets {
namespace {

// `<key words>...<assignment>` prefix: the provider keyword, up to 20 identifier chars, then
// `=`, `:`, `:=` or `=>` with optional quotes around.
std::string ctx(const std::string& words) {
  return "(?i:" + words + ")[A-Za-z0-9_.-]{0,20}[\"']?[ \\t]*(?:=|:=|:|=>)[ \\t]*[\"'`]?";
}
// Token must not continue with another token character.
const std::string kEnd = "(?:[^A-Za-z0-9_-]|$)";
const std::string kEndB64 = "(?:[^A-Za-z0-9+/=]|$)";

struct RuleBuilder {
  std::vector<SecretRule> rules;
  SecretRule& add(std::string id, std::string description, std::string regex,
                  std::vector<std::string> keywords, std::string severity,
                  std::vector<std::string> tags, double entropy = 0, int group = 1) {
    SecretRule r;
    r.id = std::move(id);
    r.description = std::move(description);
    r.regex = std::move(regex);
    r.keywords = std::move(keywords);
    r.severity = std::move(severity);
    r.tags = std::move(tags);
    r.entropy = entropy;
    r.secret_group = group;
    rules.push_back(std::move(r));
    return rules.back();
  }
};

void add_private_keys(RuleBuilder& b) {
  struct Pem {
    const char* id;
    const char* what;
    const char* label;  // text between BEGIN and PRIVATE KEY
  };
  const Pem pems[] = {
      {"private-key-rsa", "RSA private key (PEM)", "RSA "},
      {"private-key-ec", "EC private key (PEM)", "EC "},
      {"private-key-dsa", "DSA private key (PEM)", "DSA "},
      {"private-key-openssh", "OpenSSH private key", "OPENSSH "},
      {"private-key-pkcs8", "PKCS#8 private key (PEM)", ""},
      {"private-key-pkcs8-encrypted", "Encrypted PKCS#8 private key (PEM)", "ENCRYPTED "},
      {"private-key-pgp", "PGP private key block", "PGP "},
  };
  for (const auto& p : pems) {
    std::string label = p.label;
    std::string tail = label == "PGP " ? "PRIVATE KEY BLOCK-----" : "PRIVATE KEY-----";
    std::string begin = "-----BEGIN " + label + tail;
    std::string end = "-----END " + label + tail;
    auto& r = b.add(p.id, p.what,
                    "(" + begin + "[\\s\\S]{64,}?" + end + ")", {"private key"}, "critical",
                    {"private-key"}, 0);
    r.start_marker = begin;
  }
  auto& putty = b.add("private-key-putty", "PuTTY private key",
                      "(PuTTY-User-Key-File-[23]: [^\\r\\n]+\\r?\\n[\\s\\S]{32,}?Private-Lines: "
                      "\\d+\\r?\\n[A-Za-z0-9+/=\\r\\n]{40,})",
                      {"putty-user-key-file"}, "critical", {"private-key"});
  putty.start_marker = "PuTTY-User-Key-File-[23]: ";
}

}  // namespace

std::vector<SecretRule> builtin_secret_rules() {
  RuleBuilder b;
  const std::vector<std::string> cloud{"cloud"}, vcs{"vcs"}, chat{"chat"}, pay{"payment"},
      reg{"package-registry"}, saas{"saas"}, ai{"ai"}, db{"database"}, gen{"generic"};

  // ---- Private keys (multi-line) ----------------------------------------------------------
  b.add("gcp-service-account-key", "GCP service-account private key (JSON)",
        "\"private_key\"[ \\t]*:[ \\t]*\"(-----BEGIN (?:RSA )?PRIVATE KEY-----\\\\n"
        "[A-Za-z0-9+/=\\\\]{64,}?-----END (?:RSA )?PRIVATE KEY-----(?:\\\\n)?)\"",
        {"private_key"}, "critical", {"cloud", "gcp", "private-key"});
  add_private_keys(b);
  b.add("age-secret-key", "age encryption secret key",
        "(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})", {"age-secret-key-1"},
        "critical", {"private-key"});

  // ---- Cloud ------------------------------------------------------------------------------
  b.add("aws-access-key-id", "AWS access key ID",
        "\\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})" + kEnd, {"akia", "asia", "abia", "acca"},
        "critical", {"cloud", "aws"}, 3.0);
  b.add("aws-secret-access-key", "AWS secret access key",
        ctx("aws[a-z0-9_.-]{0,20}(?:secret|sk)") + "([A-Za-z0-9/+]{40})" + kEndB64, {"aws"},
        "critical", {"cloud", "aws"}, 4.0);
  b.add("aws-session-token", "AWS session token",
        ctx("aws[_-]?session[_-]?token") + "([A-Za-z0-9/+=]{100,})", {"session"}, "high",
        {"cloud", "aws"}, 4.0);
  b.add("aws-mws-key", "Amazon MWS auth token",
        "(amzn\\.mws\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
        {"amzn.mws"}, "high", {"cloud", "aws"});
  b.add("gcp-api-key", "Google Cloud API key", "\\b(AIza[0-9A-Za-z_-]{35})" + kEnd, {"aiza"},
        "high", {"cloud", "gcp"}, 3.0);
  b.add("gcp-oauth-client-secret", "Google OAuth client secret",
        "\\b(GOCSPX-[0-9A-Za-z_-]{28})" + kEnd, {"gocspx-"}, "high", {"cloud", "gcp"});
  b.add("google-oauth-access-token", "Google OAuth access token",
        "\\b(ya29\\.[0-9A-Za-z_-]{30,})", {"ya29."}, "high", {"cloud", "gcp"}, 3.5);
  b.add("azure-storage-connection-string", "Azure storage account connection string key",
        "(?i:DefaultEndpointsProtocol=https?;AccountName=[a-z0-9]{3,24};AccountKey=)"
        "([A-Za-z0-9+/]{86}==)",
        {"accountkey"}, "critical", {"cloud", "azure"});
  b.add("azure-cosmosdb-key", "Azure Cosmos DB account key",
        "AccountEndpoint=https://[A-Za-z0-9.-]+(?::\\d+)?/?;AccountKey=([A-Za-z0-9+/]{86}==)",
        {"accountendpoint"}, "critical", {"cloud", "azure"});
  b.add("azure-storage-account-key", "Azure storage account key",
        ctx("(?:azure|storage|account)[_-]?(?:storage[_-]?)?(?:account[_-]?)?key") +
            "([A-Za-z0-9+/]{86}==)",
        {"key"}, "critical", {"cloud", "azure"}, 4.0)
      .prefilter = "(?i)(?:azure|storage|account)[_-]?(?:storage[_-]?)?(?:account[_-]?)?key";
  b.add("azure-sas-token", "Azure shared access signature",
        "sv=20\\d\\d-\\d\\d-\\d\\d&[A-Za-z0-9&=%:._-]{0,300}?sig=([A-Za-z0-9%/+]{40,100})",
        {"sig="}, "high", {"cloud", "azure"}, 3.5);
  b.add("azure-service-bus-connection-string", "Azure Service Bus / Event Hubs shared access key",
        "Endpoint=sb://[A-Za-z0-9.-]+/?;SharedAccessKeyName=[^;\\s]{1,100};SharedAccessKey="
        "([A-Za-z0-9+/]{42,44}=?)",
        {"sharedaccesskey"}, "critical", {"cloud", "azure"});
  b.add("azure-ad-client-secret", "Azure AD (Entra ID) client secret",
        "(?:^|[^A-Za-z0-9~._-])([A-Za-z0-9_~.]{3}\\dQ~[A-Za-z0-9_~.-]{31,34})(?:[^A-Za-z0-9~._-]|$)",
        {"q~"}, "high", {"cloud", "azure"}, 3.5);
  b.add("alibaba-access-key-id", "Alibaba Cloud access key ID", "\\b(LTAI[A-Za-z0-9]{20})" + kEnd,
        {"ltai"}, "high", {"cloud", "alibaba"}, 3.0);
  b.add("digitalocean-pat", "DigitalOcean personal access token", "\\b(dop_v1_[a-f0-9]{64})" + kEnd,
        {"dop_v1_"}, "critical", cloud);
  b.add("digitalocean-oauth-token", "DigitalOcean OAuth token", "\\b(doo_v1_[a-f0-9]{64})" + kEnd,
        {"doo_v1_"}, "high", cloud);
  b.add("digitalocean-refresh-token", "DigitalOcean refresh token",
        "\\b(dor_v1_[a-f0-9]{64})" + kEnd, {"dor_v1_"}, "high", cloud);
  b.add("linode-token", "Linode API token", ctx("linode") + "([a-f0-9]{64})" + kEnd, {"linode"},
        "high", cloud, 3.0);
  b.add("heroku-api-key", "Heroku API key",
        ctx("heroku") + "([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})" + kEnd,
        {"heroku"}, "high", cloud)
      .prefilter = "(?i)heroku";
  b.add("heroku-api-key-v2", "Heroku API key", "\\b(HRKU-[A-Za-z0-9_-]{60})" + kEnd, {"hrku-"},
        "high", cloud);
  b.add("cloudflare-origin-ca-key", "Cloudflare origin CA key",
        "\\b(v1\\.0-[a-f0-9]{24}-[a-f0-9]{146})" + kEnd, {"v1.0-"}, "high", cloud);
  b.add("cloudflare-api-token", "Cloudflare API token",
        ctx("cloudflare|cf[_-]api") + "([A-Za-z0-9_-]{40})" + kEnd, {"cloudflare", "cf_api", "cf-api"},
        "high", cloud, 3.5);
  b.add("ibm-cloud-api-key", "IBM Cloud API key", ctx("ibm[_-]?cloud|ibmcloud") +
        "([A-Za-z0-9_-]{44})" + kEnd, {"ibm"}, "high", cloud, 3.5);
  b.add("openshift-token", "OpenShift user token", "\\b(sha256~[A-Za-z0-9_-]{43})" + kEnd,
        {"sha256~"}, "high", cloud);
  b.add("kubeconfig-client-key", "Kubernetes client key data",
        "client-key-data:[ \\t]*[\"']?([A-Za-z0-9+/]{100,}={0,2})", {"client-key-data"},
        "critical", {"cloud", "kubernetes"});

  // ---- Infrastructure / DevOps ------------------------------------------------------------
  b.add("vault-service-token", "HashiCorp Vault service token",
        "\\b(hvs\\.[A-Za-z0-9_-]{90,120})" + kEnd, {"hvs."}, "critical", {"vault"});
  b.add("vault-batch-token", "HashiCorp Vault batch token",
        "\\b(hvb\\.[A-Za-z0-9_-]{138,300})" + kEnd, {"hvb."}, "critical", {"vault"});
  b.add("vault-legacy-token", "HashiCorp Vault token (legacy format)",
        ctx("vault") + "(s\\.[A-Za-z0-9]{24})" + kEnd, {"vault"}, "high", {"vault"}, 3.0);
  b.add("terraform-cloud-token", "Terraform Cloud / Enterprise API token",
        "\\b([A-Za-z0-9]{14}\\.atlasv1\\.[A-Za-z0-9_=-]{60,70})" + kEnd, {"atlasv1"}, "high",
        {"terraform"});
  b.add("pulumi-token", "Pulumi access token", "\\b(pul-[a-f0-9]{40})" + kEnd, {"pul-"}, "high",
        {"pulumi"});
  b.add("doppler-token", "Doppler API token", "\\b(dp\\.pt\\.[A-Za-z0-9]{43})" + kEnd, {"dp.pt."},
        "high", {"doppler"});
  b.add("datadog-api-key", "Datadog API key",
        ctx("(?:datadog|dd)[_-]?api[_-]?key") + "([a-f0-9]{32})" + kEnd, {"datadog", "dd_api", "dd-api"},
        "high", saas, 3.0);
  b.add("datadog-app-key", "Datadog application key",
        ctx("(?:datadog|dd)[_-]?app(?:lication)?[_-]?key") + "([a-f0-9]{40})" + kEnd,
        {"datadog", "dd_app", "dd-app"}, "high", saas, 3.0);
  b.add("newrelic-user-api-key", "New Relic user API key", "\\b(NRAK-[A-Z0-9]{27})" + kEnd,
        {"nrak-"}, "high", saas);
  b.add("newrelic-insert-key", "New Relic insert key", "\\b(NRII-[A-Za-z0-9_-]{32})" + kEnd,
        {"nrii-"}, "high", saas);
  b.add("newrelic-browser-key", "New Relic browser API key", "\\b(NRJS-[a-f0-9]{19})" + kEnd,
        {"nrjs-"}, "medium", saas);
  b.add("sentry-dsn", "Sentry DSN with key",
        "https?://([0-9a-f]{32})(?::[0-9a-f]{32})?@[A-Za-z0-9.-]{0,60}sentry[A-Za-z0-9.-]{0,60}/\\d+",
        {"sentry"}, "medium", saas);
  b.add("sentry-org-token", "Sentry organization auth token",
        "\\b(sntrys_eyJ[A-Za-z0-9+/=_]{60,})", {"sntrys_"}, "high", saas);
  b.add("sentry-user-token", "Sentry user auth token", "\\b(sntryu_[a-f0-9]{64})" + kEnd,
        {"sntryu_"}, "high", saas);
  b.add("grafana-cloud-token", "Grafana Cloud API token",
        "\\b(glc_[A-Za-z0-9+/]{32,400}={0,2})", {"glc_"}, "high", saas);
  b.add("grafana-service-account-token", "Grafana service account token",
        "\\b(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})" + kEnd, {"glsa_"}, "high", saas);
  b.add("dynatrace-token", "Dynatrace API token",
        "\\b(dt0c01\\.[A-Z0-9]{24}\\.[A-Z0-9]{64})" + kEnd, {"dt0c01."}, "high", saas);
  b.add("databricks-token", "Databricks personal access token",
        "\\b(dapi[a-f0-9]{32}(?:-\\d)?)" + kEnd, {"dapi"}, "high", saas, 3.0);
  b.add("harness-pat", "Harness personal access token",
        "\\b(pat\\.[A-Za-z0-9_-]{22}\\.[0-9a-f]{24}\\.[A-Za-z0-9]{20})" + kEnd, {"pat."}, "high",
        saas);
  b.add("octopus-deploy-api-key", "Octopus Deploy API key", "\\b(API-[A-Z0-9]{26,32})" + kEnd,
        {"api-"}, "high", saas, 3.0);

  // ---- Identity ---------------------------------------------------------------------------
  b.add("okta-api-token", "Okta API token", ctx("okta") + "(00[A-Za-z0-9_-]{40})" + kEnd, {"okta"},
        "high", {"identity"}, 3.5);
  b.add("auth0-client-secret", "Auth0 client secret",
        ctx("auth0[a-z0-9_.-]{0,20}(?:secret|token)") + "([A-Za-z0-9_-]{32,90})" + kEnd, {"auth0"},
        "high", {"identity"}, 3.5);
  b.add("onepassword-service-account-token", "1Password service account token",
        "\\b(ops_eyJ[A-Za-z0-9+/]{250,}={0,3})", {"ops_eyj"}, "critical", {"identity"});

  // ---- Version control ---------------------------------------------------------------------
  b.add("github-pat", "GitHub personal access token (classic)", "\\b(ghp_[A-Za-z0-9]{36})" + kEnd,
        {"ghp_"}, "critical", vcs, 3.0);
  b.add("github-fine-grained-pat", "GitHub fine-grained personal access token",
        "\\b(github_pat_[A-Za-z0-9_]{82})" + kEnd, {"github_pat_"}, "critical", vcs, 3.0);
  b.add("github-oauth-token", "GitHub OAuth access token", "\\b(gho_[A-Za-z0-9]{36})" + kEnd,
        {"gho_"}, "critical", vcs, 3.0);
  b.add("github-app-token", "GitHub App user-to-server / server-to-server token",
        "\\b((?:ghu|ghs)_[A-Za-z0-9]{36})" + kEnd, {"ghu_", "ghs_"}, "critical", vcs, 3.0);
  b.add("github-refresh-token", "GitHub refresh token", "\\b(ghr_[A-Za-z0-9]{36,76})" + kEnd,
        {"ghr_"}, "high", vcs, 3.0);
  b.add("gitlab-pat", "GitLab personal access token", "\\b(glpat-[A-Za-z0-9_-]{20})" + kEnd,
        {"glpat-"}, "critical", vcs, 3.0);
  b.add("gitlab-runner-token", "GitLab runner authentication token",
        "\\b(glrt-[A-Za-z0-9_-]{20})" + kEnd, {"glrt-"}, "high", vcs, 3.0);
  b.add("gitlab-runner-registration-token", "GitLab runner registration token",
        "\\b(GR1348941[A-Za-z0-9_-]{20})" + kEnd, {"gr1348941"}, "high", vcs, 3.0);
  b.add("gitlab-pipeline-trigger-token", "GitLab pipeline trigger token",
        "\\b(glptt-[a-f0-9]{40})" + kEnd, {"glptt-"}, "high", vcs, 3.0);
  b.add("gitlab-deploy-token", "GitLab deploy token", "\\b(gldt-[A-Za-z0-9_-]{20})" + kEnd,
        {"gldt-"}, "high", vcs, 3.0);
  b.add("gitlab-ci-job-token", "GitLab CI/CD job token",
        "\\b(glcbt-[0-9a-f]{1,5}_[A-Za-z0-9_-]{20})" + kEnd, {"glcbt-"}, "high", vcs, 3.0);
  b.add("gitlab-feed-token", "GitLab feed token", "\\b(glft-[A-Za-z0-9_-]{20})" + kEnd, {"glft-"},
        "medium", vcs, 3.0);
  b.add("gitlab-oauth-app-secret", "GitLab OAuth application secret",
        "\\b(gloas-[a-f0-9]{64})" + kEnd, {"gloas-"}, "high", vcs, 3.0);
  b.add("bitbucket-app-password", "Bitbucket app password / API token",
        "\\b(ATBB[A-Za-z0-9_=.-]{28,})" + kEnd, {"atbb"}, "high", vcs, 3.5);
  b.add("bitbucket-client-secret", "Bitbucket OAuth client secret",
        ctx("bitbucket[a-z0-9_.-]{0,20}(?:secret|password|token)") + "([A-Za-z0-9=_-]{32,64})" + kEnd,
        {"bitbucket"}, "high", vcs, 3.5);

  // ---- Chat -------------------------------------------------------------------------------
  b.add("slack-bot-token", "Slack bot token",
        "\\b(xoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24,34})" + kEnd, {"xoxb-"}, "critical", chat);
  b.add("slack-user-token", "Slack user token",
        "\\b(xox[pe]-[0-9]{10,13}-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{28,34})" + kEnd,
        {"xoxp-", "xoxe-"}, "critical", chat);
  b.add("slack-app-token", "Slack app-level token",
        "\\b(xapp-\\d-[A-Z0-9]{8,12}-\\d{10,13}-[a-f0-9]{64})" + kEnd, {"xapp-"}, "high", chat);
  b.add("slack-config-token", "Slack configuration token",
        "\\b(xoxe\\.xox[bp]-\\d-[A-Z0-9]{160,170})" + kEnd, {"xoxe.xox"}, "high", chat);
  b.add("slack-legacy-token", "Slack legacy / workspace token",
        "\\b(xox[aors]-\\d{8,13}-\\d{8,13}(?:-\\d{8,13})?-[a-f0-9]{16,64})" + kEnd,
        {"xoxa-", "xoxo-", "xoxr-", "xoxs-"}, "high", chat);
  b.add("slack-webhook-url", "Slack incoming webhook URL",
        "hooks\\.slack\\.com/(?:services|workflows|triggers)/(T[A-Z0-9]{8,12}/[AB][A-Z0-9]{8,12}/"
        "[A-Za-z0-9]{24,})",
        {"hooks.slack.com"}, "high", chat);
  b.add("discord-bot-token", "Discord bot token",
        ctx("discord") + "([MNO][A-Za-z0-9_-]{23,25}\\.[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{27,38})" + kEnd,
        {"discord"}, "high", chat, 3.5);
  b.add("discord-webhook-url", "Discord webhook URL",
        "discord(?:app)?\\.com/api/webhooks/\\d{17,20}/([A-Za-z0-9_-]{60,68})" + kEnd,
        {"discord"}, "high", chat);
  b.add("telegram-bot-token", "Telegram bot token", "\\b(\\d{8,10}:AA[A-Za-z0-9_-]{33})" + kEnd,
        {":aa"}, "high", chat, 3.0);
  b.add("microsoft-teams-webhook", "Microsoft Teams incoming webhook URL",
        "(https://[a-z0-9-]+\\.webhook\\.office\\.com/webhookb2/[a-z0-9-]{36}@[a-z0-9-]{36}/"
        "IncomingWebhook/[a-f0-9]{32}/[a-z0-9-]{36})",
        {"webhook.office.com"}, "high", chat)
      .prefilter = "\\.webhook\\.office\\.com/webhookb2/";

  // ---- Messaging / email ------------------------------------------------------------------
  b.add("twilio-api-key", "Twilio API key SID", "\\b(SK[0-9a-f]{32})" + kEnd, {"sk"}, "high", saas,
        3.0);
  b.add("twilio-auth-token", "Twilio auth token",
        ctx("twilio[a-z0-9_.-]{0,20}(?:auth|token|secret)") + "([a-f0-9]{32})" + kEnd, {"twilio"},
        "high", saas, 3.0);
  b.add("sendgrid-api-key", "SendGrid API key",
        "\\b(SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43})" + kEnd, {"sg."}, "high", saas);
  b.add("mailgun-api-key", "Mailgun API key", "\\b(key-[0-9a-f]{32})" + kEnd, {"key-"}, "high",
        saas, 3.0);
  b.add("mailchimp-api-key", "Mailchimp API key", "\\b([0-9a-f]{32}-us[0-9]{1,2})" + kEnd, {"-us"},
        "high", saas, 3.0);
  b.add("postmark-token", "Postmark server token",
        ctx("postmark") + "([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})" + kEnd,
        {"postmark"}, "high", saas);

  // ---- Payments / commerce ----------------------------------------------------------------
  b.add("stripe-secret-key", "Stripe live secret / restricted key",
        "\\b((?:sk|rk)_live_[A-Za-z0-9]{24,99})" + kEnd, {"sk_live_", "rk_live_"}, "critical", pay,
        3.0);
  b.add("stripe-webhook-secret", "Stripe webhook signing secret",
        "\\b(whsec_[A-Za-z0-9]{32,})" + kEnd, {"whsec_"}, "high", pay, 3.0);
  b.add("square-access-token", "Square access token",
        "\\b((?:EAAA|sq0atp-)[A-Za-z0-9_-]{22,60})" + kEnd, {"eaaa", "sq0atp-"}, "critical", pay, 3.5);
  b.add("square-oauth-secret", "Square OAuth secret", "\\b(sq0csp-[A-Za-z0-9_-]{43})" + kEnd,
        {"sq0csp-"}, "critical", pay, 3.0);
  b.add("braintree-access-token", "PayPal Braintree access token",
        "\\b(access_token\\$production\\$[a-z0-9]{16}\\$[a-f0-9]{32})" + kEnd,
        {"access_token$production$"}, "critical", pay);
  b.add("paypal-client-secret", "PayPal client secret",
        ctx("paypal[a-z0-9_.-]{0,20}secret") + "([A-Za-z0-9_-]{80})" + kEnd, {"paypal"}, "high", pay,
        3.5)
      .prefilter = "(?i)paypal";
  b.add("shopify-token", "Shopify access token / shared secret",
        "\\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})" + kEnd, {"shpat_", "shpca_", "shppa_", "shpss_"},
        "high", pay);
  b.add("flutterwave-secret-key", "Flutterwave secret key", "\\b(FLWSECK-[a-f0-9]{32}-X)" + kEnd,
        {"flwseck-"}, "high", pay);
  b.add("shippo-live-token", "Shippo live API token", "\\b(shippo_live_[a-f0-9]{40})" + kEnd,
        {"shippo_live_"}, "high", pay);
  b.add("easypost-api-key", "EasyPost production API key", "\\b(EZAK[A-Za-z0-9]{54})" + kEnd,
        {"ezak"}, "high", pay);
  b.add("duffel-live-token", "Duffel live API token", "\\b(duffel_live_[A-Za-z0-9_=-]{43})" + kEnd,
        {"duffel_live_"}, "high", pay);

  // ---- Package registries -----------------------------------------------------------------
  b.add("npm-access-token", "npm access token", "\\b(npm_[A-Za-z0-9]{36})" + kEnd, {"npm_"},
        "critical", reg, 3.0);
  b.add("npmrc-auth-token", "npm registry auth token in .npmrc",
        "//[A-Za-z0-9.-]+(?:/[A-Za-z0-9._-]+)*/:_authToken=([A-Za-z0-9_.=-]{20,})", {"_authtoken"},
        "critical", reg, 3.0)
      .prefilter = ":_authToken=";
  b.add("pypi-token", "PyPI upload token", "\\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})" + kEnd,
        {"pypi-ageichlwas5vcmc"}, "critical", reg);
  b.add("rubygems-api-key", "RubyGems API key", "\\b(rubygems_[a-f0-9]{48})" + kEnd, {"rubygems_"},
        "critical", reg);
  b.add("nuget-api-key", "NuGet API key", "\\b(oy2[a-z0-9]{43})" + kEnd, {"oy2"}, "high", reg, 3.5);
  b.add("dockerhub-pat", "Docker Hub personal access token",
        "\\b(dckr_pat_[A-Za-z0-9_-]{27})" + kEnd, {"dckr_pat_"}, "critical", reg);
  b.add("docker-config-auth", "Registry credentials in Docker config.json",
        "\"auth\"[ \\t]*:[ \\t]*\"([A-Za-z0-9+/]{16,}={0,2})\"", {"\"auth\""}, "high", reg, 3.5);
  b.add("clojars-token", "Clojars deploy token", "\\b(CLOJARS_[a-z0-9]{60})" + kEnd, {"clojars_"},
        "high", reg);
  b.add("artifactory-api-key", "JFrog Artifactory API key", "\\b(AKCp[A-Za-z0-9]{69})" + kEnd,
        {"akcp"}, "high", reg);

  // ---- SaaS / productivity ----------------------------------------------------------------
  b.add("atlassian-api-token", "Atlassian (Jira/Confluence) API token",
        "\\b(ATATT3[A-Za-z0-9_=-]{180,200})", {"atatt3"}, "high", saas);
  b.add("atlassian-api-token-context", "Atlassian (Jira/Confluence) API token",
        ctx("atlassian|confluence|jira") + "([A-Za-z0-9]{24})" + kEnd, {"atlassian", "confluence", "jira"},
        "high", saas, 3.5);
  b.add("asana-pat", "Asana personal access token",
        ctx("asana") + "([12]/\\d{15,16}(?:/\\d{15,16})?:[A-Za-z0-9]{32})" + kEnd, {"asana"}, "high",
        saas);
  b.add("notion-token", "Notion integration token",
        "\\b((?:secret_[A-Za-z0-9]{43})|(?:ntn_[0-9]{11}[A-Za-z0-9]{35}))" + kEnd,
        {"secret_", "ntn_"}, "high", saas, 3.5);
  b.add("airtable-pat", "Airtable personal access token",
        "\\b(pat[A-Za-z0-9]{14}\\.[a-f0-9]{64})" + kEnd, {"pat"}, "high", saas);
  b.add("airtable-api-key", "Airtable API key (legacy)",
        ctx("airtable") + "(key[A-Za-z0-9]{14})" + kEnd, {"airtable"}, "high", saas, 3.0);
  b.add("dropbox-token", "Dropbox access token", "\\b(sl\\.[A-Za-z0-9_-]{130,160})" + kEnd, {"sl."},
        "high", saas);
  b.add("linear-api-key", "Linear API key", "\\b(lin_api_[A-Za-z0-9]{40})" + kEnd, {"lin_api_"},
        "high", saas);
  b.add("postman-api-key", "Postman API key", "\\b(PMAK-[a-f0-9]{24}-[a-f0-9]{34})" + kEnd,
        {"pmak-"}, "high", saas);
  b.add("contentful-token", "Contentful personal access token",
        "\\b(CFPAT-[A-Za-z0-9_-]{43})" + kEnd, {"cfpat-"}, "high", saas);
  b.add("typeform-token", "Typeform personal access token",
        "\\b(tfp_[A-Za-z0-9_.=-]{59})" + kEnd, {"tfp_"}, "high", saas);
  b.add("mapbox-secret-token", "Mapbox secret access token",
        "\\b(sk\\.eyJ[A-Za-z0-9_-]{50,}\\.[A-Za-z0-9_-]{20,})", {"sk.eyj"}, "high", saas);
  b.add("supabase-token", "Supabase access token", "\\b(sbp_[a-f0-9]{40})" + kEnd, {"sbp_"}, "high",
        saas);
  b.add("planetscale-token", "PlanetScale token / password",
        "\\b(pscale_(?:tkn|pw|oauth)_[A-Za-z0-9=._-]{32,64})" + kEnd, {"pscale_"}, "high", saas);
  b.add("prefect-api-key", "Prefect API key", "\\b(pnu_[A-Za-z0-9]{36})" + kEnd, {"pnu_"}, "high",
        saas);
  b.add("readme-api-key", "ReadMe API key", "\\b(rdme_[a-z0-9]{70})" + kEnd, {"rdme_"}, "high", saas);
  b.add("twitter-bearer-token", "Twitter/X API bearer token",
        "\\b(A{22}[A-Za-z0-9%]{80,120})" + kEnd, {"aaaaaaaaaaaaaaaaaaaaaa"}, "high", saas, 3.5);

  // ---- AI ---------------------------------------------------------------------------------
  b.add("openai-api-key", "OpenAI API key",
        "\\b(sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{58,200}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}))" +
            kEnd,
        {"sk-", "t3blbkfj"}, "critical", ai, 3.5);
  b.add("anthropic-api-key", "Anthropic API key",
        "\\b(sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA)" + kEnd, {"sk-ant-"}, "critical", ai);
  b.add("huggingface-token", "Hugging Face access token",
        "\\b((?:hf_|api_org_)[A-Za-z]{34})" + kEnd, {"hf_", "api_org_"}, "high", ai, 3.0);

  // ---- Tokens and URLs with credentials ---------------------------------------------------
  b.add("jwt", "JSON Web Token",
        "\\b(ey[A-Za-z0-9_-]{10,}\\.ey[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{10,})" + kEnd, {"ey"},
        "medium", {"jwt"}, 3.0)
      .prefilter = "\\.ey";
  const char* dbs[][3] = {
      {"postgres-url-password", "PostgreSQL connection URL with password", "postgres(?:ql)?|postgis"},
      {"mysql-url-password", "MySQL connection URL with password", "mysql(?:x)?|mariadb"},
      {"mongodb-url-password", "MongoDB connection URL with password", "mongodb(?:\\+srv)?"},
      {"redis-url-password", "Redis connection URL with password", "rediss?"},
      {"amqp-url-password", "AMQP (RabbitMQ) URL with password", "amqps?"},
      {"sqlserver-url-password", "SQL Server connection URL with password", "sqlserver|mssql"},
  };
  for (const auto& d : dbs) {
    b.add(d[0], d[1],
          std::string("\\b(?:") + d[2] + ")://[^:/\\s\"'@<>]{1,64}:([^@/\\s\"'<>]{3,128})@[A-Za-z0-9._-]{1,253}",
          {"://"}, "critical", db);
  }
  b.add("ado-connection-string-password", "Connection string with password",
        "(?i:(?:Server|Data Source|Host)=[^;\\r\\n]{1,200};[^\\r\\n\"']{0,200}?(?:Password|Pwd)=)"
        "([^;\"'\\s]{4,128})",
        {"password", "pwd"}, "high", db);
  b.add("jdbc-url-password", "JDBC URL with password",
        "\\b(?:jdbc:[a-z0-9]+:[^\\s\"'<>]{1,300}?[?;&](?i:password)=)([^&;\\s\"'<>]{4,128})",
        {"jdbc:"}, "high", db);
  b.add("url-basic-auth", "Credentials embedded in URL",
        "\\b(?:https?|ftp|ftps|smtp|smtps|ldaps?|ssh|git\\+https)://[^:/\\s\"'@<>]{1,64}:"
        "([^@/\\s\"'<>]{6,128})@[A-Za-z0-9._-]{1,253}",
        {"://"}, "high", {"url"})
      .prefilter = "://[^/@\\s]+@";
  b.add("http-basic-auth-header", "HTTP Basic Authorization header",
        "(?i:authorization[\"']?[ \\t]*[:=][ \\t]*[\"']?basic)[ \\t]+([A-Za-z0-9+/]{16,}={0,2})",
        {"basic"}, "high", {"http"}, 3.0);
  b.add("http-bearer-auth-header", "HTTP Bearer Authorization header",
        "(?i:authorization[\"']?[ \\t]*[:=][ \\t]*[\"']?bearer)[ \\t]+([A-Za-z0-9._~+/-]{20,}=*)",
        {"bearer"}, "high", {"http"}, 3.5);
  b.add("netrc-password", "Password in .netrc",
        "(?i:machine)[ \\t]+[^\\s]+[ \\t]+(?i:login)[ \\t]+[^\\s]+[ \\t]+(?i:password)[ \\t]+([^\\s]{4,})",
        {"machine"}, "high", gen)
      .prefilter = "(?i)password[ \\t]";

  // ---- Generic assignments (last: specific rules win on overlap) --------------------------
  // Values that are identifiers (no digit) or file paths are code, not secrets.
  const std::vector<std::string> not_code{"^[A-Za-z_.:-]+$", "^(?:/|\\./|~/|\\.\\./)"};
  {
    auto& r = b.add("generic-password", "Hard-coded password",
        "(?i:pass(?:word|wd|phrase)?|pwd)[A-Za-z0-9_.-]{0,20}[\"']?[ \\t]*(?:=|:=|:|=>)[ \\t]*[\"'`]"
        "([^\"'`\\s]{8,100})[\"'`]",
        {"pass", "pwd"}, "high", gen, 3.0);
    r.allowlist.regexes = {"^(?:/|\\./|~/|\\.\\./)"};
    r.prefilter = "(?i)(?:pass|pwd)";
  }
  {
    auto& r = b.add("generic-secret", "Hard-coded secret",
        ctx("secret|private[_-]?key|signing[_-]?key|encryption[_-]?key") +
            "([A-Za-z0-9_+/=.~-]{16,200})" + kEnd,
        {"secret", "private", "signing", "encryption"}, "high", gen, 3.5);
    r.allowlist.regexes = not_code;
    r.prefilter = "(?i)(?:secret|private[_-]?key|signing[_-]?key|encryption[_-]?key)";
  }
  {
    auto& r = b.add("generic-api-key", "Hard-coded API key",
        ctx("api[_.-]?key|apikey|access[_.-]?key|app[_.-]?key") + "([A-Za-z0-9_+/=.~-]{16,200})" + kEnd,
        {"api", "key"}, "high", gen, 3.5);
    r.allowlist.regexes = not_code;
    r.prefilter = "(?i)(?:api[_.-]?key|apikey|access[_.-]?key|app[_.-]?key)";
  }
  {
    auto& r = b.add("generic-token", "Hard-coded token",
        ctx("token|auth[_.-]?key|credentials?") + "([A-Za-z0-9_+/=.~-]{20,200})" + kEnd,
        {"token", "auth", "credential"}, "medium", gen, 3.7);
    r.allowlist.regexes = not_code;
    r.prefilter = "(?i)(?:token|auth[_.-]?key|credential)";
  }
  return std::move(b.rules);
}

SecretAllowlist builtin_secret_allowlist() {
  SecretAllowlist a;
  a.description = "documentation examples and placeholders";
  // Regexes are matched against the secret value (anchored where written so).
  a.regexes = {
      // Provider documentation examples.
      "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",  // jwt.io sample signature
      // Template / environment references.
      "^\\$\\{[^}]*\\}?$", "^\\$\\(.*\\)$", "^\\$[A-Za-z_][A-Za-z0-9_]*$", "^%\\(?[A-Za-z_]+\\)?s?%?$",
      "^\\{\\{.*\\}\\}$", "^<[^>]*>?$", "^\\[[^\\]]*\\]$", "^%[A-Za-z_]+%$",
      "(?i)^(?:os\\.environ|os\\.getenv|process\\.env|env\\.|System\\.getenv|getenv|ENV\\[)",
      // Obvious masks (values made of one repeated character are dropped in code: RE2 has no
      // backreferences).
      "(?i)(?:x{4,}|\\*{3,}|\\.{3,}|#{4,}|0{8,}|1234567|abcdefgh)",
      // Whole-value placeholders.
      "(?i)^(?:password|passwd|pass|pwd|secret|token|changeme|change_me|admin|root|user|username|"
      "null|none|nil|undefined|true|false|string|required|optional|hunter2|letmein|qwerty)$",
  };
  a.stopwords = {"example", "password", "passwd", "dummy", "fake", "test", "sample", "placeholder", "changeme",
                 "change_me", "your_", "your-", "yourpass", "yourkey", "redacted", "insert_",
                 "replace_me", "replaceme", "lorem", "foobar", "mock"};
  return a;
}

}  // namespace secplat::scanners::secrets

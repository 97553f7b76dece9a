#include "scanners/secrets/secret_samples.h"

#include <algorithm>
#include <cctype>

namespace secplat::scanners::secrets::testing {
namespace {

const std::string kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const std::string kLower = "abcdefghijklmnopqrstuvwxyz";
const std::string kDigit = "0123456789";
const std::string kAlnum = kUpper + kLower + kDigit;
const std::string kHex = "0123456789abcdef";
const std::string kB64 = kAlnum + "+/";

class Gen {
 public:
  explicit Gen(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E5ull) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Random string avoiding the engine's stop-words and mask patterns.
  std::string str(const std::string& alphabet, size_t n) {
    static const char* bad[] = {"example", "dummy", "fake", "test", "sample", "mock", "lorem",
                                "foobar", "your", "xxxx", "1234567", "abcdefgh", "redacted",
                                "insert", "replace", "placeholder", "change"};
    for (;;) {
      std::string out;
      for (size_t i = 0; i < n; ++i) out.push_back(alphabet[next() % alphabet.size()]);
      std::string low = out;
      for (auto& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      bool ok = std::none_of(std::begin(bad), std::end(bad),
                             [&](const char* w) { return low.find(w) != std::string::npos; });
      if (ok) return out;
    }
  }
  std::string uuid() {
    return str(kHex, 8) + "-" + str(kHex, 4) + "-" + str(kHex, 4) + "-" + str(kHex, 4) + "-" +
           str(kHex, 12);
  }

 private:
  uint64_t s_;
};

std::string b64_encode(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

}  // namespace

std::vector<SecretSample> secret_samples(uint64_t seed) {
  Gen g(seed);
  std::vector<SecretSample> v;
  // `pre` + secret + `post` on one line.
  auto add = [&](const std::string& rule, const std::string& pre, const std::string& secret,
                 const std::string& post = "") { v.push_back({rule, pre + secret + post, secret}); };
  auto A = [&](size_t n) { return g.str(kAlnum, n); };
  auto H = [&](size_t n) { return g.str(kHex, n); };
  auto U = [&](size_t n) { return g.str(kUpper + kDigit, n); };
  auto L = [&](size_t n) { return g.str(kLower + kDigit, n); };
  auto D = [&](size_t n) { return std::to_string(1 + g.next() % 9) + g.str(kDigit, n - 1); };
  auto B = [&](size_t n) { return g.str(kB64, n); };
  const std::string K = "KEY-----";

  // PEM blocks: secret is the whole block, BEGIN line to END line.
  auto pem = [&](const std::string& rule, const std::string& label, const std::string& tail) {
    std::string block = "-----BEGIN " + label + "PRIVATE " + tail + "\n";
    for (int i = 0; i < 4; ++i) block += B(64) + "\n";
    block += B(20) + "==\n-----END " + label + "PRIVATE " + tail;
    v.push_back({rule, "key:\n" + block + "\ntrailer", block});
  };
  pem("private-key-rsa", "RSA ", K);
  pem("private-key-ec", "EC ", K);
  pem("private-key-dsa", "DSA ", K);
  pem("private-key-openssh", "OPENSSH ", K);
  pem("private-key-pkcs8", "", K);
  pem("private-key-pkcs8-encrypted", "ENCRYPTED ", K);
  pem("private-key-pgp", "PGP ", "KEY BLOCK-----");
  v.push_back({"private-key-putty",
               "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: k\nPublic-Lines: 1\n" +
                   B(64) + "\nPrivate-Lines: 2\n" + B(64) + "\n" + B(44) + "\nPrivate-MAC: " + H(40),
               ""});
  {
    std::string nl = "\\n";
    std::string key = "-----BEGIN PRIVATE " + K + nl + B(64) + nl + B(64) + nl + "-----END PRIVATE " + K + nl;
    add("gcp-service-account-key", "  \"private_key\": \"", key, "\",");
  }
  add("age-secret-key", "", "AGE-SECRET-" + std::string("KEY-1") + g.str("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58));

  add("aws-access-key-id", "aws_access_key_id = ", "AK" + std::string("IA") + g.str(kUpper + "234567", 16));
  add("aws-secret-access-key", "aws_secret_access_key = ", B(40));
  add("aws-session-token", "aws_session_token = ", A(120));
  add("aws-mws-key", "mws = ", "amzn.mws." + g.uuid());
  add("gcp-api-key", "const key = \"", "AI" + std::string("za") + A(35), "\";");
  add("gcp-oauth-client-secret", "client: ", "GOCSPX-" + A(28));
  add("google-oauth-access-token", "token ", "ya29." + A(60));
  add("azure-storage-connection-string",
      "DefaultEndpointsProtocol=https;AccountName=acct01;AccountKey=", B(86) + "==",
      ";EndpointSuffix=core.windows.net");
  add("azure-cosmosdb-key", "AccountEndpoint=https://db1.documents.azure.com:443/;AccountKey=",
      B(86) + "==", ";");
  add("azure-storage-account-key", "AZURE_STORAGE_KEY = \"", B(86) + "==", "\"");
  add("azure-sas-token",
      "https://acct.blob.core.windows.net/c?sv=2021-08-06&ss=b&srt=co&sp=r&se=2030-01-01T00:00:00Z&sig=",
      B(43) + "%3D");
  add("azure-service-bus-connection-string",
      "Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=RootKey;SharedAccessKey=", B(43) + "=");
  add("azure-ad-client-secret", "AZURE_CLIENT_SECRET=", A(3) + "8Q~" + A(34));
  add("alibaba-access-key-id", "ali = ", "LT" + std::string("AI") + A(20));
  add("digitalocean-pat", "do = ", "dop_" + std::string("v1_") + H(64));
  add("digitalocean-oauth-token", "do = ", "doo_" + std::string("v1_") + H(64));
  add("digitalocean-refresh-token", "do = ", "dor_" + std::string("v1_") + H(64));
  add("linode-token", "LINODE_TOKEN=", H(64));
  add("heroku-api-key", "HEROKU_API_KEY=", g.uuid());
  add("heroku-api-key-v2", "heroku: ", "HRKU-" + A(60));
  add("cloudflare-origin-ca-key", "ca: ", "v1.0-" + H(24) + "-" + H(146));
  add("cloudflare-api-token", "CLOUDFLARE_API_TOKEN=", A(40));
  add("ibm-cloud-api-key", "IBM_CLOUD_API_KEY=", A(44));
  add("openshift-token", "oc login --token=", "sha256~" + A(43));
  add("kubeconfig-client-key", "    client-key-data: ", B(120) + "=");
  add("vault-service-token", "VAULT_TOKEN=", "hv" + std::string("s.") + A(100));
  add("vault-batch-token", "t: ", "hv" + std::string("b.") + A(150));
  add("vault-legacy-token", "vault_token: ", "s." + A(24));
  add("terraform-cloud-token", "token = \"", A(14) + ".atlas" + std::string("v1.") + A(65), "\"");
  add("pulumi-token", "PULUMI=", "pul-" + H(40));
  add("doppler-token", "DOPPLER=", "dp.pt." + A(43));
  add("datadog-api-key", "DD_API_KEY=", H(32));
  add("datadog-app-key", "DATADOG_APP_KEY=", H(40));
  add("newrelic-user-api-key", "nr: ", "NRAK-" + U(27));
  add("newrelic-insert-key", "nr: ", "NRII-" + A(32));
  add("newrelic-browser-key", "nr: ", "NRJS-" + H(19));
  add("sentry-dsn", "dsn: https://", H(32), "@o123456.ingest.sentry.io/4504");
  add("sentry-org-token", "SENTRY=", "sntrys_" + std::string("eyJ") + A(80));
  add("sentry-user-token", "SENTRY=", "sntryu_" + H(64));
  add("grafana-cloud-token", "GRAFANA=", "glc_" + A(60));
  add("grafana-service-account-token", "GRAFANA=", "glsa_" + A(32) + "_" + H(8));
  add("dynatrace-token", "DT=", "dt0c01." + U(24) + "." + U(64));
  add("databricks-token", "DATABRICKS=", "dapi" + H(32));
  add("harness-pat", "HARNESS=", "pat." + A(22) + "." + H(24) + "." + A(20));
  add("octopus-deploy-api-key", "OCTOPUS=", "API-" + U(26));
  add("okta-api-token", "OKTA_API_TOKEN=", "00" + A(40));
  add("auth0-client-secret", "AUTH0_CLIENT_SECRET=", A(64));
  add("onepassword-service-account-token", "OP=", "ops_" + std::string("eyJ") + B(260));
  add("github-pat", "GITHUB_TOKEN=", "gh" + std::string("p_") + A(36));
  add("github-fine-grained-pat", "GH=", "github" + std::string("_pat_") + A(22) + "_" + A(59));
  add("github-oauth-token", "GH=", "gh" + std::string("o_") + A(36));
  add("github-app-token", "GH=", "gh" + std::string("s_") + A(36));
  add("github-refresh-token", "GH=", "gh" + std::string("r_") + A(36));
  add("gitlab-pat", "GL=", "gl" + std::string("pat-") + A(20));
  add("gitlab-runner-token", "GL=", "gl" + std::string("rt-") + A(20));
  add("gitlab-runner-registration-token", "GL=", "GR134" + std::string("8941") + A(20));
  add("gitlab-pipeline-trigger-token", "GL=", "gl" + std::string("ptt-") + H(40));
  add("gitlab-deploy-token", "GL=", "gl" + std::string("dt-") + A(20));
  add("gitlab-ci-job-token", "GL=", "gl" + std::string("cbt-") + H(4) + "_" + A(20));
  add("gitlab-feed-token", "GL=", "gl" + std::string("ft-") + A(20));
  add("gitlab-oauth-app-secret", "GL=", "gl" + std::string("oas-") + H(64));
  add("bitbucket-app-password", "BB=", "AT" + std::string("BB") + A(32));
  add("bitbucket-client-secret", "BITBUCKET_CLIENT_SECRET=", A(40));
  add("slack-bot-token", "SLACK=", "xo" + std::string("xb-") + D(12) + "-" + D(13) + "-" + A(24));
  add("slack-user-token", "SLACK=", "xo" + std::string("xp-") + D(12) + "-" + D(12) + "-" + D(12) + "-" + A(32));
  add("slack-app-token", "SLACK=", "xa" + std::string("pp-1-") + U(10) + "-" + D(13) + "-" + H(64));
  add("slack-config-token", "SLACK=", "xoxe.xo" + std::string("xp-1-") + U(164));
  add("slack-legacy-token", "SLACK=", "xo" + std::string("xs-") + D(10) + "-" + D(10) + "-" + D(10) + "-" + H(64));
  add("slack-webhook-url", "url: https://hooks.slack.com/services/",
      "T" + U(10) + "/B" + U(10) + "/" + A(24));
  add("discord-bot-token", "DISCORD_BOT_TOKEN=", "M" + A(24) + "." + A(6) + "." + A(27));
  add("discord-webhook-url", "hook: https://discord.com/api/webhooks/" + D(18) + "/", A(68));
  add("telegram-bot-token", "TELEGRAM=", D(9) + ":AA" + A(33));
  add("microsoft-teams-webhook", "hook: ",
      "https://contoso.webhook.office.com/webhookb2/" + g.uuid() + "@" + g.uuid() + "/IncomingWebhook/" +
          H(32) + "/" + g.uuid());
  add("twilio-api-key", "TWILIO=", "SK" + H(32));
  add("twilio-auth-token", "TWILIO_AUTH_TOKEN=", H(32));
  add("sendgrid-api-key", "SENDGRID=", "SG." + A(22) + "." + A(43));
  add("mailgun-api-key", "MAILGUN=", "key-" + H(32));
  add("mailchimp-api-key", "MAILCHIMP=", H(32) + "-us14");
  add("postmark-token", "POSTMARK_SERVER_TOKEN=", g.uuid());
  add("stripe-secret-key", "STRIPE=", "sk_" + std::string("live_") + A(24));
  add("stripe-webhook-secret", "STRIPE_WH=", "wh" + std::string("sec_") + A(32));
  add("square-access-token", "SQUARE=", "EA" + std::string("AA") + A(60));
  add("square-oauth-secret", "SQUARE=", "sq0" + std::string("csp-") + A(43));
  add("braintree-access-token", "BT=", "access_token$" + std::string("production$") + L(16) + "$" + H(32));
  add("paypal-client-secret", "PAYPAL_CLIENT_SECRET=", A(80));
  add("shopify-token", "SHOPIFY=", "shp" + std::string("at_") + H(32));
  add("flutterwave-secret-key", "FLW=", "FLWSECK-" + H(32) + "-X");
  add("shippo-live-token", "SHIPPO=", "shippo_" + std::string("live_") + H(40));
  add("easypost-api-key", "EASYPOST=", "EZ" + std::string("AK") + A(54));
  add("duffel-live-token", "DUFFEL=", "duffel_" + std::string("live_") + A(43));
  add("npm-access-token", "NPM=", "np" + std::string("m_") + A(36));
  add("npmrc-auth-token", "//registry.npmjs.org/:_authToken=", A(36));
  add("pypi-token", "PYPI=", "pypi-" + std::string("AgEIcHlwaS5vcmc") + A(70));
  add("rubygems-api-key", "GEM=", "rubygems_" + H(48));
  add("nuget-api-key", "NUGET=", "oy2" + L(43));
  add("dockerhub-pat", "DOCKER=", "dckr_" + std::string("pat_") + A(27));
  add("docker-config-auth", "{\"auths\":{\"r.io\":{\"auth\": \"", b64_encode("deploy:" + A(24)), "\"}}}");
  add("clojars-token", "CLOJARS=", "CLOJARS_" + L(60));
  add("artifactory-api-key", "JFROG=", "AK" + std::string("Cp") + A(69));
  add("atlassian-api-token", "ATL=", "ATATT3" + A(190));
  add("atlassian-api-token-context", "JIRA_API_TOKEN=", A(24));
  add("asana-pat", "ASANA_TOKEN=", "1/" + D(16) + ":" + A(32));
  add("notion-token", "NOTION=", "secret_" + A(43));
  add("airtable-pat", "AIRTABLE=", "pat" + A(14) + "." + H(64));
  add("airtable-api-key", "AIRTABLE_API_KEY=", "key" + A(14));
  add("dropbox-token", "DROPBOX=", "sl." + A(140));
  add("linear-api-key", "LINEAR=", "lin_" + std::string("api_") + A(40));
  add("postman-api-key", "POSTMAN=", "PM" + std::string("AK-") + H(24) + "-" + H(34));
  add("contentful-token", "CONTENTFUL=", "CF" + std::string("PAT-") + A(43));
  add("typeform-token", "TYPEFORM=", "tfp_" + A(59));
  add("mapbox-secret-token", "MAPBOX=", "sk." + std::string("eyJ") + A(60) + "." + A(22));
  add("supabase-token", "SUPABASE=", "sbp_" + H(40));
  add("planetscale-token", "PSCALE=", "pscale_" + std::string("tkn_") + A(43));
  add("prefect-api-key", "PREFECT=", "pnu_" + A(36));
  add("readme-api-key", "README=", "rdme_" + L(70));
  add("twitter-bearer-token", "TWITTER=", std::string(22, 'A') + A(100));
  add("openai-api-key", "OPENAI=", "sk-" + std::string("proj-") + A(100));
  add("anthropic-api-key", "ANTHROPIC=", "sk-" + std::string("ant-api03-") + A(93) + "AA");
  add("huggingface-token", "HF=", "hf" + std::string("_") + g.str(kUpper + kLower, 34));
  add("jwt", "Authorization: ", "ey" + std::string("J") + A(30) + ".eyJ" + A(40) + "." + A(43));
  add("postgres-url-password", "DATABASE_URL=postgres://app:", A(16), "@db.internal:5432/app");
  add("mysql-url-password", "url: mysql://app:", A(16), "@db.internal/app");
  add("mongodb-url-password", "MONGO=mongodb+srv://app:", A(16), "@cluster0.mongo.internal/app");
  add("redis-url-password", "REDIS=redis://default:", A(16), "@cache.internal:6379/0");
  add("amqp-url-password", "AMQP=amqps://app:", A(16), "@mq.internal/vhost");
  add("sqlserver-url-password", "MSSQL=sqlserver://app:", A(16), "@sql.internal:1433");
  add("ado-connection-string-password",
      "Server=tcp:sql1.corp.local,1433;Database=app;User ID=app;Password=", A(16), ";");
  add("jdbc-url-password", "jdbc.url=jdbc:mysql://db1:3306/app?user=app&password=", A(16));
  add("url-basic-auth", "remote = https://deploy:", A(20), "@git.corp.local/repo.git");
  add("http-basic-auth-header", "curl -H 'Authorization: Basic ", b64_encode("deploy:" + A(20)), "'");
  add("http-bearer-auth-header", "headers = {\"Authorization\": \"Bearer ", A(40), "\"}");
  add("netrc-password", "machine api.corp.local login deploy password ", A(16));
  add("generic-password", "db_password = \"", A(14) + "!#", "\"");
  add("generic-secret", "client_secret: \"", A(32), "\"");
  add("generic-api-key", "API_KEY = '", A(32), "'");
  add("generic-token", "refresh_token: \"", A(40), "\"");
  return v;
}

}  // namespace secplat::scanners::secrets::testing

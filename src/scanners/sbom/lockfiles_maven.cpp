// Maven pom.xml: declared dependencies with literal or ${property} versions. A small tolerant
// XML reader (elements, text, comments, CDATA, the five predefined entities); namespaces ignored.
#include <map>
#include <memory>

#include "scanners/sbom/lockfiles.h"
#include "scanners/sbom/parse_support.h"

namespace secplat::scanners::sbom {
using namespace detail;

namespace {

struct XmlNode {
  std::string name;
  std::string text;
  std::vector<std::unique_ptr<XmlNode>> children;

  const XmlNode* child(std::string_view n) const {
    for (const auto& c : children) {
      if (c->name == n) return c.get();
    }
    return nullptr;
  }
  std::string child_text(std::string_view n) const {
    const XmlNode* c = child(n);
    return c ? std::string(trim(c->text)) : "";
  }
};

std::string decode_entities(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') { out += s[i]; continue; }
    auto semi = s.find(';', i);
    if (semi == std::string_view::npos) { out += s[i]; continue; }
    auto ent = s.substr(i + 1, semi - i - 1);
    if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "amp") out += '&';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else { out += s.substr(i, semi - i + 1); }
    i = semi;
  }
  return out;
}

std::string local_name(std::string_view n) {
  auto colon = n.find(':');
  return std::string(colon == std::string_view::npos ? n : n.substr(colon + 1));
}

Result<std::unique_ptr<XmlNode>> parse_xml(std::string_view t) {
  auto root = std::make_unique<XmlNode>();  // synthetic document node
  std::vector<XmlNode*> stack{root.get()};
  size_t i = 0;
  while (i < t.size()) {
    if (t[i] != '<') {
      auto lt = t.find('<', i);
      if (lt == std::string_view::npos) lt = t.size();
      stack.back()->text += decode_entities(t.substr(i, lt - i));
      i = lt;
      continue;
    }
    auto skip_to = [&](std::string_view end) -> bool {
      auto e = t.find(end, i);
      if (e == std::string_view::npos) return false;
      i = e + end.size();
      return true;
    };
    if (t.substr(i, 4) == "<!--") {
      if (!skip_to("-->")) return Error::bad_request("unterminated comment");
    } else if (t.substr(i, 9) == "<![CDATA[") {
      auto e = t.find("]]>", i);
      if (e == std::string_view::npos) return Error::bad_request("unterminated CDATA");
      stack.back()->text += std::string(t.substr(i + 9, e - i - 9));
      i = e + 3;
    } else if (t.substr(i, 2) == "<?") {
      if (!skip_to("?>")) return Error::bad_request("unterminated processing instruction");
    } else if (t.substr(i, 2) == "<!") {
      if (!skip_to(">")) return Error::bad_request("unterminated declaration");
    } else if (t.substr(i, 2) == "</") {
      auto gt = t.find('>', i);
      if (gt == std::string_view::npos) return Error::bad_request("unterminated end tag");
      std::string name = local_name(trim(t.substr(i + 2, gt - i - 2)));
      if (stack.size() < 2 || stack.back()->name != name) return Error::bad_request("mismatched </" + name + ">");
      stack.pop_back();
      i = gt + 1;
    } else {
      // Start tag; attribute values may contain '>' only when quoted.
      size_t j = i + 1;
      char quote = 0;
      while (j < t.size() && (quote || t[j] != '>')) {
        if (quote && t[j] == quote) quote = 0;
        else if (!quote && (t[j] == '"' || t[j] == '\'')) quote = t[j];
        ++j;
      }
      if (j >= t.size()) return Error::bad_request("unterminated start tag");
      bool self_closing = t[j - 1] == '/';
      auto inner = t.substr(i + 1, j - i - 1 - (self_closing ? 1 : 0));
      auto end = inner.find_first_of(" \t\r\n");
      std::string name = local_name(inner.substr(0, end));
      if (name.empty()) return Error::bad_request("empty tag name");
      if (stack.size() > 512) return Error::bad_request("nesting too deep");
      auto node = std::make_unique<XmlNode>();
      node->name = name;
      XmlNode* raw = node.get();
      stack.back()->children.push_back(std::move(node));
      if (!self_closing) stack.push_back(raw);
      i = j + 1;
    }
  }
  if (stack.size() != 1) return Error::bad_request("unclosed <" + stack.back()->name + ">");
  return root;
}

// Replaces ${key} from `props` (up to a few rounds, for properties defined via properties).
std::string expand(std::string s, const std::map<std::string, std::string>& props) {
  for (int round = 0; round < 8; ++round) {
    auto start = s.find("${");
    if (start == std::string::npos) return s;
    auto end = s.find('}', start);
    if (end == std::string::npos) return s;
    auto it = props.find(s.substr(start + 2, end - start - 2));
    if (it == props.end()) return s;
    s.replace(start, end - start + 1, it->second);
  }
  return s;
}

void collect_dependencies(const XmlNode* deps, std::vector<const XmlNode*>& out) {
  if (!deps) return;
  for (const auto& d : deps->children) {
    if (d->name == "dependency") out.push_back(d.get());
  }
}

}  // namespace

Result<std::vector<Component>> parse_maven_pom(const std::string& source, std::string_view bytes) {
  return guarded(source, [&]() -> Result<std::vector<Component>> {
    auto doc = parse_xml(bytes);
    if (!doc.ok()) return malformed(source, doc.error().message);
    const XmlNode* project = (*doc)->child("project");
    if (!project) return malformed(source, "no <project> element");

    std::map<std::string, std::string> props;
    if (const XmlNode* p = project->child("properties")) {
      for (const auto& c : p->children) props[c->name] = std::string(trim(c->text));
    }
    const XmlNode* parent = project->child("parent");
    std::string version = project->child_text("version");
    if (version.empty() && parent) version = parent->child_text("version");
    std::string group = project->child_text("groupId");
    if (group.empty() && parent) group = parent->child_text("groupId");
    props["project.version"] = props["pom.version"] = version;
    props["project.groupId"] = props["pom.groupId"] = group;
    props["project.artifactId"] = project->child_text("artifactId");
    if (parent) props["project.parent.version"] = parent->child_text("version");

    // Versions managed in this pom's <dependencyManagement>.
    std::map<std::string, std::string> managed;
    if (const XmlNode* dm = project->child("dependencyManagement")) {
      std::vector<const XmlNode*> md;
      collect_dependencies(dm->child("dependencies"), md);
      for (const XmlNode* d : md) {
        managed[expand(d->child_text("groupId"), props) + ":" + expand(d->child_text("artifactId"), props)] =
            expand(d->child_text("version"), props);
      }
    }

    std::vector<const XmlNode*> deps;
    collect_dependencies(project->child("dependencies"), deps);
    if (const XmlNode* profiles = project->child("profiles")) {
      for (const auto& pr : profiles->children) collect_dependencies(pr->child("dependencies"), deps);
    }
    std::vector<Component> comps;
    for (const XmlNode* d : deps) {
      std::string g = expand(d->child_text("groupId"), props);
      std::string a = expand(d->child_text("artifactId"), props);
      if (g.empty() || a.empty() || g.find("${") != std::string::npos || a.find("${") != std::string::npos) continue;
      std::string v = expand(d->child_text("version"), props);
      if (v.empty()) {
        auto m = managed.find(g + ":" + a);
        if (m != managed.end()) v = m->second;
      }
      if (v.find("${") != std::string::npos) v.clear();  // unresolvable: listed without a version
      // Version ranges ("[1.0,2.0)") are not a concrete version either.
      if (!v.empty() && (v.front() == '[' || v.front() == '(')) v.clear();
      Component c = make_component(kMaven, g + ":" + a, v, source);
      c.scope = Scope::direct;
      comps.push_back(std::move(c));
    }
    return merge_components(std::move(comps));
  });
}

}  // namespace secplat::scanners::sbom

#include "audit/audit.h"

#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <unordered_map>

namespace glassbox::audit {
namespace {

std::string Location(const std::string& path, const Position& p) {
  if (p.line == 0) return fmt::format("{}@{}", path, p.byte_offset);
  return fmt::format("{}:{}:{}", path, p.line, p.column);
}

void Merge(const std::string& path, ModuleAnalysis&& a, AuditResult* out,
           std::set<std::string>* probes) {
  for (Finding& f : a.findings) {
    f.path = path;
    f.fingerprint = fmt::format("{}:{}:{}", f.rule, path, f.byte_offset);
    out->findings.push_back(std::move(f));
  }
  for (DecodedString& d : a.decoded) {
    std::string loc = Location(path, d.position);
    if (!d.list.empty()) d.list = path + ":" + d.list;
    out->decoded.push_back(LocatedDecoded{std::move(d), std::move(loc)});
  }
  for (EndpointRef& e : a.endpoints) {
    std::string loc = Location(path, e.position);
    out->endpoints.push_back(LocatedEndpoint{std::move(e), std::move(loc)});
  }
  for (SdkHit& s : a.sdks) {
    std::string loc = Location(path, s.position);
    out->sdks.push_back(LocatedSdk{std::move(s), std::move(loc)});
  }
  for (Correlation& c : a.correlations) {
    std::string loc = Location(path, c.position);
    out->correlations.push_back(LocatedCorrelation{std::move(c), std::move(loc)});
  }
  probes->insert(a.probes.begin(), a.probes.end());
  for (const std::string& n : a.notes) out->notes.push_back(path + ": " + n);
  out->decoder_calls += a.decoder_calls;
  if (!a.not_parsed.empty())
    out->notes.push_back(path + ": not parsed as JavaScript: " + a.not_parsed);
  if (a.has_syntax_errors)
    out->notes.push_back(path +
                         ": parts of this module do not parse as JavaScript; they were skipped");
}

}  // namespace

AuditResult AuditUnpacked(const std::string& target, const Unpacked& unpacked,
                          const Analyzer& analyzer, const AuditOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  AuditResult out;
  out.target = target;
  out.kind = unpacked.kind;
  out.object_format = unpacked.object_format;
  out.layout = unpacked.layout;
  out.notes = unpacked.notes;
  out.target_bytes = unpacked.target_bytes;
  std::vector<const Module*> js;
  for (const Module& m : unpacked.modules) {
    // Source maps repeat the sources; everything else is analysed, as code
    // or as an asset (LanguageOfPath).
    if (LanguageOfPath(m.path) != ModuleLanguage::kSourceMap) js.push_back(&m);
    if (m.has_bytecode) {
      out.notes.push_back(
          m.path + ": bytecode ships next to this source; the source shown may not be what runs");
    }
  }
  // Largest first, so two threads finish together.
  std::stable_sort(js.begin(), js.end(), [](const Module* a, const Module* b) {
    return a->text.size() > b->text.size();
  });
  // Bundlers and node_modules trees ship the same file under several names:
  // a module whose text and language equal an earlier one's is analysed once
  // and its results copied (same_as[i] is that earlier index, or i).
  std::vector<size_t> same_as(js.size());
  {
    std::unordered_map<std::string_view, std::vector<size_t>> by_text;
    for (size_t i = 0; i < js.size(); ++i) {
      same_as[i] = i;
      auto& seen = by_text[js[i]->text];
      for (size_t j : seen) {
        if (LanguageOfPath(js[j]->path) == LanguageOfPath(js[i]->path)) {
          same_as[i] = j;
          break;
        }
      }
      if (same_as[i] == i) seen.push_back(i);
    }
  }
  std::vector<ModuleAnalysis> results(js.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < js.size();) {
      if (same_as[i] != i) continue;
      results[i] = LanguageOfPath(js[i]->path) == ModuleLanguage::kJavaScript
                       ? analyzer.Analyze(js[i]->text, options.analysis)
                       : analyzer.AnalyzeAsset(js[i]->text, js[i]->path, options.analysis);
      // The syntax trees of a large module are freed by now; give the pages
      // back so that they do not add up across threads' malloc arenas.
      if (js[i]->text.size() >= (size_t{1} << 20)) malloc_trim(0);
    }
  };
  unsigned threads = options.threads > 0
                         ? static_cast<unsigned>(options.threads)
                         : std::min(8u, std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(js.size(), 1)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  std::set<std::string> probes;
  std::vector<bool> copied(js.size(), false);  // results[i] is needed again by a later duplicate
  for (size_t i = 0; i < js.size(); ++i) copied[same_as[i]] = copied[same_as[i]] || same_as[i] != i;
  for (size_t i = 0; i < js.size(); ++i) {
    out.bytes += js[i]->text.size();
    const size_t from = same_as[i];
    Merge(js[i]->path, copied[from] ? ModuleAnalysis(results[from]) : std::move(results[from]),
          &out, &probes);
  }
  out.modules = js.size();
  if (!unpacked.strings.empty()) {
    std::vector<std::string_view> texts;
    std::vector<uint64_t> offsets;
    for (const NativeString& s : unpacked.strings) {
      texts.push_back(s.text);
      offsets.push_back(s.offset);
      out.bytes += s.text.size();
    }
    Merge(target, analyzer.AnalyzeStrings(texts, offsets, options.analysis), &out, &probes);
  }
  out.probes.assign(probes.begin(), probes.end());
  std::stable_sort(out.findings.begin(), out.findings.end(),
                   [](const Finding& a, const Finding& b) {
                     if (a.severity != b.severity) return a.severity > b.severity;
                     if (a.path != b.path) return a.path < b.path;
                     return a.byte_offset < b.byte_offset;
                   });
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

Result<AuditResult> RunAudit(const std::string& target, const Analyzer& analyzer,
                             const AuditOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  auto unpacked = Unpack(target, options.limits);
  if (!unpacked.ok()) return unpacked.status();
  AuditResult result = AuditUnpacked(target, *unpacked, analyzer, options);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace glassbox::audit

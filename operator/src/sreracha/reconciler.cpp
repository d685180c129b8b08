#include "sreracha/reconciler.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "kube/meta.h"
#include "runtime/children.h"
#include "runtime/conditions.h"
#include "sreracha/pod_view.h"
#include "sreracha/stagger.h"

namespace sreracha {

using nlohmann::json;

const kube::Resource kSrerachas{"sreracha.io", "v1alpha1", "srerachas"};
const kube::Resource kIngressClasses{"networking.k8s.io", "v1", "ingressclasses", false};

namespace {

// Objects without our label are not watched (nor Secrets without
// kWatchedSecretLabel), so a missing Secret, an unlabelled one's password or
// a child in the way is looked at again on this period.
constexpr std::chrono::milliseconds kDependencyRetry{30000};
// A PodDisruptionBudget refused an eviction: its status catches up with the
// replacement's Ready within a second or two.
constexpr std::chrono::milliseconds kEvictionRetry{2000};

kube::Resource resource_of(const ChildRef& ref) {
  auto slash = ref.api_version.find('/');
  if (slash == std::string::npos) return {"", ref.api_version, ref.resource, true};
  return {ref.api_version.substr(0, slash), ref.api_version.substr(slash + 1), ref.resource, true};
}

runtime::ChildKey key_of(const ChildRef& ref) { return {resource_of(ref), ref.kind, ref.name}; }

bool controlled_by(const json& object, const std::string& uid) {
  const json* ref = kube::meta::controller_ref(object);
  return ref && ref->value("uid", "") == uid;
}

// Controlled by a Sreracha of this name: this one, or an earlier one that was
// deleted before its children were collected (ours to take over, as they
// would have been).
bool controlled_by_sreracha_named(const json& object, const std::string& name) {
  const json* ref = kube::meta::controller_ref(object);
  return ref && ref->value("kind", "") == "Sreracha" &&
         ref->value("apiVersion", "").starts_with("sreracha.io/") && ref->value("name", "") == name;
}

// The JSON merge patch (RFC 7386) that turns `from` into `to`: a key `to`
// lacks is sent as null, or the server would keep it.
json merge_patch_between(const json& from, const json& to) {
  if (!from.is_object() || !to.is_object()) return to;
  json patch = to;
  for (const auto& [key, value] : from.items()) {
    if (!to.contains(key)) {
      patch[key] = nullptr;
    } else {
      patch[key] = merge_patch_between(value, to.at(key));
    }
  }
  return patch;
}

int int_at(const json& object, const json::json_pointer& path) {
  if (!object.contains(path)) return 0;
  const json& v = object.at(path);
  return v.is_number_integer() ? v.get<int>() : 0;
}

}  // namespace

std::vector<runtime::Request> pod_owner_requests(const json& pod) {
  const json& meta = pod.at("metadata");
  if (!meta.contains("labels")) return {};
  const json& labels = meta["labels"];
  if (labels.value("app.kubernetes.io/component", "") != "app") return {};
  std::string instance = labels.value("app.kubernetes.io/instance", "");
  if (instance.empty()) return {};
  return {runtime::Request{meta.value("namespace", ""), instance}};
}

runtime::Mapper auth_secret_referrers(const runtime::Store& srerachas) {
  return [&srerachas](const json& secret) {
    const json& meta = secret.at("metadata");
    const std::string ns = meta.value("namespace", "");
    const std::string name = meta.value("name", "");
    std::vector<runtime::Request> out;
    for (const auto& cr : srerachas.list(ns)) {
      const json::json_pointer ref("/spec/redis/authSecretRef/name");
      if (cr->contains(ref) && cr->at(ref) == name) {
        out.push_back({ns, cr->at("metadata").value("name", "")});
      }
    }
    return out;
  };
}

Reconciler::Reconciler(kube::Interface& client, Caches caches, runtime::EventRecorder& events,
                       runtime::MetricsRegistry& metrics, ReconcilerOptions options)
    : client_(client),
      caches_(caches),
      events_(events),
      metrics_(metrics),
      instance_metrics_{
          metrics.gauge("sreracha_ready_replicas", "Ready replicas of the app Deployment.",
                        {"namespace", "name"}),
          metrics.gauge("sreracha_observed_startup_seconds",
                        "New app pods' creation to Ready: p90 of the last 20, or the slowest of "
                        "the last 3 when higher.",
                        {"namespace", "name"}),
          metrics.gauge("sreracha_min_start_gap_seconds",
                        "Smallest gap between the container starts of running app pods.",
                        {"namespace", "name"}),
          metrics.counter("sreracha_late_replacements_total",
                          "Replacements not Ready when the pod they replace reached its deadline.",
                          {"namespace", "name"})},
      now_(std::move(options.now)),
      redis_checker_(options.redis_checker) {
  children_.apply.field_manager = std::move(options.field_manager);
  children_.hash_annotation = kAppliedHashAnnotation;
}

template <typename Fn>
void Reconciler::with_stagger_memory(const std::string& key, const std::string& uid, Fn&& use) {
  kube::MutexLock lock(memory_mu_);
  StaggerMemory& memory = memory_[key];
  if (memory.uid != uid) {
    memory = StaggerMemory{};
    memory.uid = uid;
  }
  use(memory);
}

// One reconcile of one Sreracha: the status it builds and what it found.
struct Reconciler::Pass {
  Reconciler& r;
  const kube::Context& ctx;
  const json& cr;
  const std::string key;   // namespace/name
  const json base_status;  // what this pass's status is built on
  const std::int64_t generation;
  const std::string now;  // metav1.Time of this pass
  json status;
  json conditions;
  Instance inst;
  std::vector<json> children;  // render(inst, ...), once the dependencies are there
  // auth_checksum() of the auth Secret's password; empty without one.
  std::string auth_checksum;
  // The password as the Secret holds it (base64), for the Redis check.
  std::string auth_password_base64;
  // The auth Secret was read from the API (it lacks kWatchedSecretLabel):
  // look again after kDependencyRetry, as nothing tells of a change.
  bool auth_secret_polled = false;
  mutable std::map<runtime::ChildKey, runtime::Store::Object> seen_children;  // by observed()

  Pass(Reconciler& reconciler, const kube::Context& context, const json& object,
       std::string object_key, json base)
      : r(reconciler),
        ctx(context),
        cr(object),
        key(std::move(object_key)),
        base_status(std::move(base)),
        generation(object.at("metadata").value("generation", std::int64_t{0})),
        now(kube::meta::format_time(r.now_())),
        status(base_status),
        conditions(base_status.value("conditions", json::array())) {
    status["observedGeneration"] = generation;
  }

  void condition(const runtime::Condition& c) {
    runtime::set_condition(conditions, c, generation, now);
  }

  const runtime::Store* store_for(const std::string& kind) const {
    if (kind == "Deployment") return r.caches_.deployments;
    if (kind == "Service") return r.caches_.services;
    if (kind == "EndpointSlice") return r.caches_.endpointslices;
    if (kind == "NetworkPolicy") return r.caches_.networkpolicies;
    if (kind == "PodDisruptionBudget") return r.caches_.poddisruptionbudgets;
    if (kind == "Ingress") return r.caches_.ingresses;
    if (kind == "PersistentVolumeClaim") return r.caches_.persistentvolumeclaims;
    throw std::logic_error("no cache for kind " + kind);
  }

  // The cached child, or null. A child of an earlier Sreracha of the same
  // name (deleted, its children not yet collected) counts as absent, so its
  // status is never reported as ours and applying takes it over.
  // The first read of each child is kept for the rest of the pass: a pass
  // looks at a child several times (ownership, apply, status), and a cache
  // read decodes; one snapshot per child also keeps the pass consistent.
  runtime::Store::Object observed(const runtime::ChildKey& child) const {
    if (auto seen = seen_children.find(child); seen != seen_children.end()) return seen->second;
    auto object = store_for(child.kind)->get(inst.ns, child.name);
    if (object && !controlled_by(*object, inst.uid)) object = nullptr;
    seen_children.emplace(child, object);
    return object;
  }
  runtime::Store::Object observed(const ChildRef& ref) const { return observed(key_of(ref)); }

  void event(const std::string& type, const std::string& reason, const std::string& message) {
    r.events_.event(cr, type, reason, message);
  }

  // The Secret and IngressClass the spec names must exist; returns what is
  // missing, or nothing.
  std::optional<std::pair<std::string, std::string>> missing_dependency() {
    const auto& spec = inst.spec;
    if (spec.redis.auth_secret_ref) {
      const auto& ref = *spec.redis.auth_secret_ref;
      runtime::Store::Object secret =
          r.caches_.secrets ? r.caches_.secrets->get(inst.ns, ref.name) : nullptr;
      if (!secret) {
        // Not labelled (or not yet cached): read it, and warn once that a
        // password change would only be seen on the next poll.
        try {
          secret = std::make_shared<const json>(
              r.client_.get(kube::resources::secrets, inst.ns, ref.name, {}, ctx));
        } catch (const kube::ApiError& e) {
          if (!e.is_not_found()) throw;
          return std::pair{"SecretMissing", "Secret " + inst.ns + "/" + ref.name +
                                                " not found (spec.redis.authSecretRef.name)"};
        }
        auth_secret_polled = true;
        warn_unwatched_secret(ref.name);
      }
      const json& data = secret->value("data", json::object());
      if (!data.contains(ref.key) || !data[ref.key].is_string()) {
        return std::pair{"SecretKeyMissing", "Secret " + inst.ns + "/" + ref.name +
                                                 " has no key \"" + ref.key +
                                                 "\" (spec.redis.authSecretRef.key)"};
      }
      auth_password_base64 = data[ref.key].get<std::string>();
      auth_checksum =
          sreracha::auth_checksum(secret->at("metadata").value("uid", ""), auth_password_base64);
    }
    if (spec.ingress.enabled && !spec.ingress.class_name.empty() &&
        !r.caches_.ingressclasses->get("", spec.ingress.class_name)) {
      return std::pair{"IngressClassMissing", "IngressClass " + spec.ingress.class_name +
                                                  " not found (spec.ingress.className)"};
    }
    return std::nullopt;
  }

  void warn_unwatched_secret(const std::string& name) {
    bool fresh = false;
    r.with_stagger_memory(key, inst.uid, [&](StaggerMemory& memory) {
      fresh = memory.warned_unwatched_secret != name;
      memory.warned_unwatched_secret = name;
    });
    if (!fresh) return;
    event("Warning", "AuthSecretNotWatched",
          "Secret " + inst.ns + "/" + name + " lacks the label " + kWatchedSecretLabel +
              "=true: a password change reaches the pods only after up to " +
              std::to_string(kDependencyRetry.count() / 1000) + " s; label it");
  }

  // The auth checksum on each pod template. Redis takes a new password
  // first; the app's template keeps the one it has until the Redis
  // Deployment has rolled, so the app's pods switch when Redis expects the
  // new password (those the app starts in between, and a restarted Redis,
  // read the Secret as it is then: the Secret is the truth, this only
  // decides when the running pods are replaced).
  RenderOptions render_options() const {
    RenderOptions options;
    if (auth_checksum.empty()) return options;
    const std::string annotation(kAuthChecksumAnnotation);
    const json::json_pointer template_annotation("/spec/template/metadata/annotations");
    if (inst.spec.redis.mode != RedisMode::Local) {
      options.app_pod_annotations[annotation] = auth_checksum;
      return options;
    }
    options.redis_pod_annotations[annotation] = auth_checksum;
    auto redis = observed(ChildRef{"apps/v1", "Deployment", "deployments", redis_name(inst)});
    const bool redis_rolled =
        redis && redis->contains(template_annotation) &&
        redis->at(template_annotation).value(annotation, "") == auth_checksum &&
        int_at(*redis, "/status/observedGeneration"_json_pointer) >=
            int_at(*redis, "/metadata/generation"_json_pointer) &&
        int_at(*redis, "/status/updatedReplicas"_json_pointer) >= 1 &&
        int_at(*redis, "/status/readyReplicas"_json_pointer) >= 1 &&
        int_at(*redis, "/status/replicas"_json_pointer) ==
            int_at(*redis, "/status/updatedReplicas"_json_pointer);
    auto app = observed(ChildRef{"apps/v1", "Deployment", "deployments", inst.name});
    if (redis_rolled || !app) {
      options.app_pod_annotations[annotation] = auth_checksum;
    } else if (app->contains(template_annotation) &&
               app->at(template_annotation).contains(annotation)) {
      options.app_pod_annotations[annotation] = app->at(template_annotation).at(annotation);
    }
    return options;
  }

  // A desired child that exists but is not ours (made by hand or by another
  // tool) is left alone: a forced apply would take it over without a word.
  // The caches hold our labelled objects and the metadata of the rest.
  std::optional<std::pair<std::string, std::string>> foreign_child(
      const std::vector<json>& desired) {
    for (const auto& object : desired) {
      const ChildRef ref = ref_of(object);
      if (observed(ref)) continue;
      // Labelled as ours but another Sreracha's (names collide: "a-redis"
      // is a's Redis and a-redis's app), or anyone else's. at(): a kind
      // without its cache is a wiring error, which fails the reconcile
      // loudly rather than taking over what it cannot see.
      auto existing = store_for(ref.kind)->get(inst.ns, ref.name);
      if (!existing) existing = r.caches_.unmanaged.at(ref.resource)->get(inst.ns, ref.name);
      if (!existing) continue;
      if (controlled_by_sreracha_named(*existing, inst.name)) continue;
      return std::pair{"ChildNotOwned", ref.kind + " " + inst.ns + "/" + ref.name +
                                            " exists and is not controlled by this Sreracha; "
                                            "delete or rename it"};
    }
    return std::nullopt;
  }

  // Applies every desired child that differs from the cache; deletes owned
  // children the spec no longer asks for.
  void sync_children(std::vector<json> rendered) {
    std::vector<std::pair<runtime::ChildKey, json>> desired;
    for (auto& object : rendered) desired.emplace_back(key_of(ref_of(object)), std::move(object));
    std::vector<runtime::ChildKey> may_own;
    for (const auto& ref : all_possible_children(inst)) may_own.push_back(key_of(ref));
    const auto changes = runtime::apply_and_prune(
        r.client_, inst.ns, std::move(desired), may_own,
        [this](const runtime::ChildKey& child) { return observed(child); }, r.children_, ctx);
    // One Event per kind of change, naming every child: a new instance gets
    // "Deployment web-redis, Service web-redis, ... created", not six Events
    // that the recorder would fold into one anyway.
    std::string created, updated, deleted;
    for (const auto& change : changes) {
      std::string& list = change.action == runtime::ChildChange::Action::Created   ? created
                          : change.action == runtime::ChildChange::Action::Updated ? updated
                                                                                   : deleted;
      list += (list.empty() ? "" : ", ") + change.key.kind + " " + change.key.name;
    }
    if (!created.empty()) event("Normal", "Created", created + " created");
    if (!updated.empty()) event("Normal", "Updated", updated + " updated to the spec");
    if (!deleted.empty()) event("Normal", "Deleted", deleted + " deleted (no longer in the spec)");
  }

  // What staggering decided for the app Deployment this pass.
  struct StaggerOutcome {
    int replicas = 0;
    int surge = 0;
    std::optional<std::chrono::milliseconds> requeue_after;
    std::optional<stagger::Seconds> learned_lifetime;
    // Learned for an earlier template, kept while the canary checks it.
    std::optional<stagger::Seconds> provisional_lifetime;
    std::string canary;
    std::optional<stagger::Seconds> effective_lifetime;
    std::optional<stagger::Seconds> observed_startup;
    stagger::Seconds lead{stagger::kDefaultStartup};
    std::optional<std::string> unsafe;  // why the schedule cannot be safe
    std::string template_hash;          // of the app's pod template as rendered
    int recycled = 0;
    int late = 0;  // late replacements first seen in this pass
    std::vector<stagger::PodView> pods;
  };

  // The template hash render() put on the app's pod template.
  std::string desired_template_hash() const {
    for (const auto& object : children) {
      if (object.value("kind", "") != "Deployment" ||
          object["metadata"].value("name", "") != inst.name) {
        continue;
      }
      const json::json_pointer at("/spec/template/metadata/annotations");
      if (!object.contains(at)) return "";
      return object.at(at).value(std::string(stagger::kTemplateHashAnnotation), "");
    }
    return "";
  }

  // The lifetime to plan with: the spec's (0: stable, never recycled), else
  // learned from this template's crashes, else the one learned earlier for
  // the same template (pods replaced in time show no crash), else the one
  // learned for an earlier template while a canary pod of this one checks it:
  // an image change usually keeps the crash, and relearning it would let the
  // rollout's pods, started together, crash together.
  void lifetime(StaggerOutcome& out, const std::string& template_hash,
                stagger::TimePoint at) const {
    out.learned_lifetime = stagger::learn_lifetime(out.pods, template_hash);
    const json::json_pointer kept("/stagger/observedLifetimeSeconds");
    const json::json_pointer kept_for("/stagger/observedLifetimeTemplate");
    if (!out.learned_lifetime && status.contains(kept) && status.at(kept).is_number_integer()) {
      const stagger::Seconds earlier(status.at(kept).get<int>());
      if (status.contains(kept_for) && status.at(kept_for) == template_hash) {
        out.learned_lifetime = earlier;
      } else if (!inst.spec.stagger.app_lifetime_seconds && earlier > stagger::Seconds::zero()) {
        out.provisional_lifetime = earlier;
        out.canary = stagger::canary(out.pods, template_hash);
        const auto canary = std::find_if(out.pods.begin(), out.pods.end(),
                                         [&](const auto& pod) { return pod.name == out.canary; });
        // Outlived the old lifetime by far: the new template's app is fixed.
        if (canary != out.pods.end() &&
            at - *canary->container_started >= stagger::kCanaryLifetimes * earlier) {
          out.provisional_lifetime.reset();
          out.canary.clear();
        }
      }
    }
    if (inst.spec.stagger.app_lifetime_seconds) {
      out.effective_lifetime = stagger::Seconds(*inst.spec.stagger.app_lifetime_seconds);
    } else {
      out.effective_lifetime =
          out.learned_lifetime ? out.learned_lifetime : out.provisional_lifetime;
    }
  }

  // Plans staggered lifetimes from the cached pods and runs the pod actions;
  // replica changes are returned for the Deployment apply that follows.
  StaggerOutcome stagger_step() {
    StaggerOutcome out;
    for (const auto& pod : r.caches_.pods->list_by_label("app.kubernetes.io/instance", inst.name)) {
      const json& meta = (*pod)["metadata"];
      if (meta.value("namespace", "") != inst.ns) continue;
      if (meta.contains("labels") &&
          meta["labels"].value("app.kubernetes.io/component", "") == "app") {
        out.pods.push_back(pod_view(*pod));
      }
    }
    auto app = observed(ChildRef{"apps/v1", "Deployment", "deployments", inst.name});
    stagger::Observed observed_state;
    observed_state.pods = out.pods;
    out.template_hash = desired_template_hash();
    observed_state.template_hash = out.template_hash;
    if (app) {
      const json& meta = (*app)["metadata"];
      observed_state.deployment_replicas = int_at(*app, "/spec/replicas"_json_pointer);
      if (meta.contains("annotations")) {
        try {
          observed_state.surge =
              std::stoi(meta["annotations"].value(std::string(stagger::kSurgeAnnotation), "0"));
        } catch (const std::exception&) {
          observed_state.surge = 0;
        }
      }
      // A template rollout: pods of the old template remain. (Not
      // observedGeneration < generation: every replica change bumps the
      // generation ahead of the status, which would look like a rollout.)
      observed_state.rollout_in_progress = int_at(*app, "/status/updatedReplicas"_json_pointer) <
                                           int_at(*app, "/status/replicas"_json_pointer);
    }

    const auto now_time = r.now_();
    stagger::Params params;
    params.desired_replicas = inst.spec.replicas;
    params.margin = stagger::Seconds(inst.spec.stagger.recycle_margin_seconds);
    params.start_interval = stagger::Seconds(inst.spec.stagger.start_interval_seconds);
    lifetime(out, observed_state.template_hash, now_time);
    params.lifetime = out.effective_lifetime;
    params.canary = out.canary;
    r.with_stagger_memory(key, inst.uid, [&](StaggerMemory& memory) {
      memory.startups.observe(out.pods, now_time);
      const json::json_pointer kept("/stagger/observedStartupSeconds");
      if (status.contains(kept) && status.at(kept).is_number_integer()) {
        memory.startups.seed(stagger::Seconds(status.at(kept).get<int>()), now_time);
      }
      out.observed_startup = memory.startups.estimate(now_time);
    });
    if (inst.spec.stagger.startup_seconds) {
      out.lead = stagger::Seconds(*inst.spec.stagger.startup_seconds);
    } else if (out.observed_startup) {
      out.lead = std::max(*out.observed_startup, stagger::Seconds{1});
    }
    params.startup_allowance = out.lead;
    out.unsafe = stagger::unsafe_schedule(params);

    stagger::Plan plan = stagger::plan(observed_state, now_time, params);
    out.replicas = app ? observed_state.deployment_replicas : 0;
    out.surge = observed_state.surge;
    out.requeue_after = plan.requeue_after;
    count_late(plan.late_pods, out);
    for (const auto& action : plan.actions) {
      if (!run(action, out)) break;
    }
    return out;
  }

  // Runs one planned action; false when the rest of the plan must wait.
  bool run(const stagger::Action& action, StaggerOutcome& out) {
    switch (action.kind) {
      case stagger::Action::Kind::SetReplicas:
        out.replicas = action.replicas;
        out.surge = action.surge;
        return true;
      case stagger::Action::Kind::MarkForDeletion: {
        json patch;
        patch["metadata"]["annotations"][std::string(stagger::kDeletionCostAnnotation)] =
            std::to_string(stagger::kRetireDeletionCost);
        r.client_.merge_patch(kube::resources::pods, inst.ns, action.pod, patch, {}, ctx,
                              {.want_object = false});
        break;
      }
      case stagger::Action::Kind::EvictPod:
        try {
          r.client_.evict(inst.ns, action.pod, {}, ctx);
        } catch (const kube::ApiError& e) {
          if (!e.is_too_many_requests()) throw;
          // The budget has no room yet (its status lags the replacement's
          // Ready, or another replica is down): keep the pod, plan again.
          spdlog::info("{}: eviction of pod {} refused for now: {}", key, action.pod, e.what());
          out.requeue_after = kEvictionRetry;
          return false;
        }
        break;
    }
    recycled(action);
    ++out.recycled;
    return true;
  }

  // Late replacements: each pod counted once, in status, a metric and a
  // Warning event; the slow start-up behind it already raised the lead.
  void count_late(const std::vector<std::string>& late_pods, StaggerOutcome& out) {
    std::vector<std::string> fresh;
    r.with_stagger_memory(key, inst.uid, [&](StaggerMemory& memory) {
      std::erase_if(memory.late_pods, [&](const std::string& name) {
        return std::none_of(out.pods.begin(), out.pods.end(),
                            [&](const stagger::PodView& pod) { return pod.name == name; });
      });
      for (const auto& name : late_pods) {
        if (memory.late_pods.insert(name).second) fresh.push_back(name);
      }
    });
    for (const auto& name : fresh) {
      r.instance_metrics_.late_replacements.labels({inst.ns, inst.name}).inc();
      event("Warning", "LateReplacement",
            "pod " + name +
                " reached the end of its budget (lifetime - margin) before its "
                "replacement was Ready; the next replacements start earlier");
    }
    out.late = static_cast<int>(fresh.size());
  }

  void recycled(const stagger::Action& action) {
    if (action.reason == stagger::Reason::ScaleDown) return;
    const std::string reason(stagger::to_string(action.reason));
    r.metrics_
        .counter("sreracha_pod_recycles_total",
                 "Pods the operator replaced, by reason (lifetime, crashed, respread).", {"reason"})
        .labels({reason})
        .inc();
    event("Normal", "PodRecycled", "pod " + action.pod + " replaced (" + reason + ")");
  }

  // The spec as an Instance; an invalid one is reported (Degraded, not
  // Ready, an event) and nothing else is touched.
  bool parse() {
    try {
      inst = parse_instance(cr);
    } catch (const SpecError& e) {
      const std::string message = e.what();
      condition({"Degraded", "True", "InvalidSpec", message});
      condition({"Ready", "False", "InvalidSpec", message});
      write_status();
      event("Warning", "InvalidSpec", message);
      return false;
    }
    status["selector"] = app_selector_string(inst);
    status["redisURL"] = redis_url_for_app(inst);
    return true;
  }

  // A missing dependency or a child in the way: say so, change nothing else.
  bool blocked() {
    auto blocker = missing_dependency();
    if (!blocker) {
      children = render(inst, render_options());
      blocker = foreign_child(children);
    }
    if (!blocker) return false;
    condition({"Degraded", "True", blocker->first, blocker->second});
    condition({"Ready", "False", blocker->first, blocker->second});
    write_status();
    event("Warning", blocker->first, blocker->second);
    return true;
  }

  // The children as the spec and staggering want them: the Deployment's
  // replicas and surge annotation come from staggering, in the same apply.
  void apply_children(const StaggerOutcome& staggered) {
    for (auto& object : children) {
      if (object.value("kind", "") == "Deployment" &&
          object["metadata"].value("name", "") == inst.name) {
        object["spec"]["replicas"] = staggered.replicas;
        object["metadata"]["annotations"][std::string(stagger::kSurgeAnnotation)] =
            std::to_string(staggered.surge);
      }
    }
    sync_children(std::move(children));
  }

  // The API server refused a child for good (a 400, 403 or 422): say which
  // and why; nothing is retried until the spec (or a child) changes.
  void apply_failed(const runtime::ChildError& e) {
    const std::string message = e.verb() + " " + e.key().kind + " " + e.key().name +
                                " refused by the API server (" + std::to_string(e.code()) + " " +
                                e.reason() + "): " + e.message();
    condition({"Degraded", "True", "ApplyFailed", message});
    condition({"Ready", "False", "ApplyFailed", message});
    write_status();
    event("Warning", "ApplyFailed", message);
  }

  runtime::Condition redis_condition() const {
    switch (inst.spec.redis.mode) {
      case RedisMode::Local: {
        // Checked by the Redis pod's readiness probe (redis-cli PING): the
        // operator never dials it, so the NetworkPolicy admits the app alone.
        if (r.redis_checker_) r.redis_checker_->forget(key);
        auto local = observed(ChildRef{"apps/v1", "Deployment", "deployments", redis_name(inst)});
        const bool up = local && int_at(*local, "/status/readyReplicas"_json_pointer) >= 1;
        return {"RedisReady", up ? "True" : "False", up ? "LocalRedisReady" : "LocalRedisNotReady",
                up ? "the local Redis pod is ready" : "waiting for the local Redis pod"};
      }
      case RedisMode::External:
      case RedisMode::Endpoints:
        return checked_redis_condition();
    }
    throw std::logic_error("unknown Redis mode");
  }

  // What the Redis check (redis_check.h) last found; the checker wakes this
  // key when that changes.
  runtime::Condition checked_redis_condition() const {
    const auto& redis = inst.spec.redis;
    redis_check::Target target;
    target.hosts = redis.mode == RedisMode::External ? std::vector{redis.host} : redis.addresses;
    target.port = redis.port;
    target.tls = redis.tls;
    target.server_name = redis.tls_server_name;
    std::string where = redis.mode == RedisMode::External
                            ? "Redis at " + redis.host
                            : std::to_string(redis.addresses.size()) + " Redis address(es)";
    if (!r.redis_checker_) {
      return {"RedisReady", "Unknown", "NotChecked",
              where + " (not checked: the operator runs with --redis-check=false)"};
    }
    if (redis.auth_secret_ref) {
      auto password = redis_check::decode_base64(auth_password_base64);
      if (!password) {
        return {"RedisReady", "False", "AuthSecretInvalid",
                "Secret " + inst.ns + "/" + redis.auth_secret_ref->name + ", key " +
                    redis.auth_secret_ref->key + ", is not base64"};
      }
      target.password = std::move(*password);
      target.password_source = "Secret " + inst.ns + "/" + redis.auth_secret_ref->name + " (key " +
                               redis.auth_secret_ref->key + ")";
    }
    auto result = r.redis_checker_->observe(key, target);
    if (!result) return {"RedisReady", "Unknown", "Checking", "checking " + where};
    return {"RedisReady", result->ok ? "True" : "False", result->reason, result->message};
  }

  // Staggered: whether the plan can keep replicas from ending together. An
  // unsafe one is still carried out (overlapping replacements are the least
  // bad), said once as a Warning event when it turns unsafe.
  void staggered_condition(const StaggerOutcome& staggered) {
    const auto& lifetime = staggered.effective_lifetime;
    const std::string lead = std::to_string(staggered.lead.count());
    if (!lifetime) {
      condition({"Staggered", "Unknown", "LearningLifetime",
                 "no crash seen yet: replicas start spread out; the lifetime is learned from "
                 "the first crash"});
    } else if (lifetime->count() == 0) {
      condition({"Staggered", "True", "StableApp",
                 "spec.stagger.appLifetimeSeconds is 0: pods are not replaced"});
    } else if (staggered.unsafe) {
      const bool already = std::any_of(conditions.begin(), conditions.end(), [](const json& c) {
        return c.value("type", "") == "Staggered" && c.value("reason", "") == "LifetimeTooShort";
      });
      condition({"Staggered", "False", "LifetimeTooShort", *staggered.unsafe});
      if (!already) {
        event("Warning", "LifetimeTooShort", *staggered.unsafe);
      }
    } else if (staggered.provisional_lifetime) {
      condition({"Staggered", "True", "CheckingLifetime",
                 "the pod template changed: pods are replaced by the " +
                     std::to_string(lifetime->count()) + " s lifetime learned before, while " +
                     (staggered.canary.empty() ? std::string("the oldest new pod")
                                               : "pod " + staggered.canary) +
                     " runs to its end to show whether it still holds"});
    } else {
      condition({"Staggered", "True", "Planned",
                 "each pod is replaced " + lead + " s (its start-up) plus " +
                     std::to_string(inst.spec.stagger.recycle_margin_seconds) +
                     " s (the margin) before its " + std::to_string(lifetime->count()) +
                     " s lifetime ends"});
    }
  }

  // The first problem (by pod name) of the instance's pods, app or Redis.
  std::optional<PodProblem> pod_problem_of_instance() const {
    std::optional<PodProblem> first;
    for (const auto& pod : r.caches_.pods->list_by_label("app.kubernetes.io/instance", inst.name)) {
      if ((*pod)["metadata"].value("namespace", "") != inst.ns) continue;
      auto problem = pod_problem(*pod);
      if (problem && (!first || problem->pod < first->pod)) first = std::move(problem);
    }
    return first;
  }

  // Status and metrics from the children as cached, and what staggering did.
  void report(const StaggerOutcome& staggered) {
    auto app = observed(ChildRef{"apps/v1", "Deployment", "deployments", inst.name});
    const int replicas = app ? int_at(*app, "/status/replicas"_json_pointer) : 0;
    const int ready = app ? int_at(*app, "/status/readyReplicas"_json_pointer) : 0;
    status["replicas"] = replicas;
    status["readyReplicas"] = ready;

    const runtime::Condition redis = redis_condition();
    condition(redis);
    const int desired = inst.spec.replicas;
    // Not checked (--redis-check=false) is no reason to say the app is down.
    const bool redis_ok = redis.status == "True" || redis.reason == "NotChecked";
    const bool all_ready = ready >= desired && redis_ok;
    const std::string counts =
        std::to_string(ready) + "/" + std::to_string(desired) + " replicas ready";
    std::string not_ready = counts + (redis_ok ? "" : "; " + redis.message);
    const auto problem = all_ready ? std::nullopt : pod_problem_of_instance();
    if (problem) not_ready += "; pod " + problem->pod + ": " + problem->message;
    const std::string ready_reason = all_ready ? "Available"
                                     : problem ? problem->reason
                                               : "NotReady";
    const bool said = std::any_of(conditions.begin(), conditions.end(), [&](const json& c) {
      return c.value("type", "") == "Ready" && c.value("reason", "") == ready_reason;
    });
    condition(
        {"Ready", all_ready ? "True" : "False", ready_reason, all_ready ? counts : not_ready});
    // Once per spell, as the condition changes: the kubelet repeats its own.
    if (problem && !said)
      event("Warning", problem->reason, "pod " + problem->pod + ": " + problem->message);
    // A staggered replacement runs one pod more than spec.replicas until the
    // old one goes, about every lifetime / replicas: that is the stagger at
    // work, not progress toward a new state, and must not flip the
    // condition (each flip a status write and a new lastTransitionTime).
    const bool progressing = ready < desired || replicas < desired || replicas > desired + 1;
    condition({"Progressing", progressing ? "True" : "False", progressing ? "Scaling" : "Stable",
               counts});
    condition({"Degraded", "False", "AsExpected", "no problems"});
    staggered_condition(staggered);

    json stagger_status = status.value("stagger", json::object());
    if (staggered.effective_lifetime) {
      stagger_status["effectiveLifetimeSeconds"] = staggered.effective_lifetime->count();
    } else {
      stagger_status.erase("effectiveLifetimeSeconds");
    }
    if (staggered.learned_lifetime) {
      stagger_status["observedLifetimeSeconds"] = staggered.learned_lifetime->count();
      stagger_status["observedLifetimeTemplate"] = staggered.template_hash;
    } else if (!staggered.provisional_lifetime) {
      // Never learned, or the canary outlived the old template's lifetime.
      stagger_status.erase("observedLifetimeSeconds");
      stagger_status.erase("observedLifetimeTemplate");
    }
    if (staggered.observed_startup) {
      stagger_status["observedStartupSeconds"] = staggered.observed_startup->count();
    }
    stagger_status["startupSeconds"] = staggered.lead.count();
    if (staggered.recycled > 0) {
      stagger_status["recycles"] = stagger_status.value("recycles", 0) + staggered.recycled;
      stagger_status["lastRecycleTime"] = now;
    }
    if (staggered.late > 0) {
      stagger_status["lateReplacements"] =
          stagger_status.value("lateReplacements", 0) + staggered.late;
    }
    status["stagger"] = stagger_status;
    write_status();

    const std::vector<std::string> instance_labels = {inst.ns, inst.name};
    auto& metrics = r.instance_metrics_;
    metrics.ready_replicas.labels(instance_labels).set(ready);
    if (staggered.observed_startup) {
      metrics.observed_startup_seconds.labels(instance_labels)
          .set(static_cast<double>(staggered.observed_startup->count()));
    }
    if (auto gap = min_start_gap_seconds(staggered.pods)) {
      metrics.min_start_gap_seconds.labels(instance_labels).set(*gap);
    }
  }

  // Writes status only when it differs from the status it was built on.
  void write_status() {
    status["conditions"] = conditions;
    if (status == base_status) return;
    // metadata.uid in a patch is a precondition: if the cache still held a
    // deleted Sreracha when a new one of the same name was created, the API
    // server refuses (Conflict) instead of giving the new one a stale status.
    const std::string uid = cr.at("metadata").value("uid", "");
    json patch = {{"metadata", {{"uid", uid}}},
                  {"status", merge_patch_between(base_status, status)}};
    r.client_.merge_patch(kSrerachas, cr.at("metadata").value("namespace", ""),
                          cr.at("metadata").value("name", ""), patch, "status", ctx,
                          {.want_object = false});
    r.remember_status(key, uid, status);
  }
};

std::optional<json> Reconciler::written_status(const std::string& key, const std::string& uid) {
  kube::MutexLock lock(written_mu_);
  auto it = written_.find(key);
  if (it == written_.end() || it->second.uid != uid) return std::nullopt;
  return it->second.status;
}

void Reconciler::remember_status(const std::string& key, const std::string& uid, json status) {
  kube::MutexLock lock(written_mu_);
  written_[key] = {uid, std::move(status)};
}

void Reconciler::forget(const std::string& key) {
  const auto slash = key.find('/');
  const std::vector<std::string> labels = {key.substr(0, slash), key.substr(slash + 1)};
  instance_metrics_.ready_replicas.remove(labels);
  instance_metrics_.observed_startup_seconds.remove(labels);
  instance_metrics_.min_start_gap_seconds.remove(labels);
  instance_metrics_.late_replacements.remove(labels);
  {
    kube::MutexLock lock(written_mu_);
    written_.erase(key);
  }
  if (redis_checker_) redis_checker_->forget(key);
  kube::MutexLock lock(memory_mu_);
  memory_.erase(key);
}

// Read the Sreracha; render its children from the spec; let staggering set
// the app's replicas; apply what differs; report status from what is cached.
runtime::Result Reconciler::reconcile(const runtime::Request& request, const kube::Context& ctx) {
  const std::string key = request.ns + "/" + request.name;
  auto cr = caches_.srerachas->get(request.ns, request.name);
  if (!cr) {  // deleted: the garbage collector removes the children
    forget(key);
    return {};
  }
  if (cr->at("metadata").contains("deletionTimestamp")) return {};

  // Our last write, else the cached status (a new Sreracha, or one whose
  // status an earlier leader wrote).
  json base = written_status(key, cr->at("metadata").value("uid", ""))
                  .value_or(cr->value("status", json::object()));
  Pass pass(*this, ctx, *cr, key, std::move(base));
  if (!pass.parse()) return {};  // the next spec change triggers the next reconcile
  if (pass.blocked()) return {kDependencyRetry};
  const auto staggered = pass.stagger_step();
  try {
    pass.apply_children(staggered);
  } catch (const runtime::ChildError& e) {
    if (!e.permanent()) throw;  // retried with back-off
    spdlog::warn("{}: {}", key, e.what());
    pass.apply_failed(e);
    return {};
  }
  pass.report(staggered);
  auto requeue_after = staggered.requeue_after;
  if (pass.auth_secret_polled)
    requeue_after = std::min(requeue_after.value_or(kDependencyRetry), kDependencyRetry);
  return {requeue_after};
}

}  // namespace sreracha

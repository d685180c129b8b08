# The docs cannot drift from the code without a failing test:
# - docs/crd-reference.md is what scripts/gen-crd-docs.sh makes from the CRD;
# - docs/metrics.md lists exactly the metrics the code registers;
# - docs/troubleshooting.md names every condition and event reason the
#   reconciler writes;
# - relative links in README.md and docs/ point to files that exist.
source "$(dirname "$0")/../lib/testlib.sh"
SRC="${SRERACHA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"

generated="$("$SRC/scripts/gen-crd-docs.sh" -)" || fail "scripts/gen-crd-docs.sh failed"
diff -u "$SRC/docs/crd-reference.md" <(printf '%s\n' "$generated") ||
  fail "docs/crd-reference.md is stale: run scripts/gen-crd-docs.sh"
pass "docs/crd-reference.md is up to date with crds/sreracha.io_srerachas.yaml"

python3 - "$SRC" <<'PY' || fail "docs out of line with the code (above)"
import glob, os, re, sys

root = sys.argv[1]
problems = []

# Metrics: registered in operator/src (counter/gauge/histogram("name", ...)).
code = set()
for path in glob.glob(f"{root}/operator/src/**/*.cpp", recursive=True):
    code |= set(re.findall(r'(?:counter|gauge|histogram)\(\s*"([a-z_:]+)"', open(path).read()))
doc = open(f"{root}/docs/metrics.md").read()
documented = set(re.findall(r"^\| `([a-z_:]+)` \|", doc, re.M))
if not code:
    problems.append("found no metric registrations in operator/src")
for name in sorted(code - documented):
    problems.append(f"docs/metrics.md does not list {name}")
for name in sorted(documented - code):
    problems.append(f"docs/metrics.md lists {name}, which the code does not register")

# Condition and event reasons: the CamelCase string literals on the lines of
# reconciler.cpp that set conditions, record events or name a dependency.
src = open(f"{root}/operator/src/sreracha/reconciler.cpp").read()
reasons = set()
for line in src.splitlines():
    if re.search(r'set_condition|reason|Condition|event\(|std::pair|\? "|^\s*\{"', line):
        reasons |= set(re.findall(r'"([A-Z][a-z]+(?:[A-Z][a-z]+)*)"', line))
reasons -= {"True", "False", "Unknown", "Normal", "Warning"}
trouble = open(f"{root}/docs/troubleshooting.md").read()
if len(reasons) < 10:
    problems.append(f"found only {sorted(reasons)} as reasons in reconciler.cpp")
for reason in sorted(reasons):
    if f"`{reason}`" not in trouble and f"### {reason}" not in trouble:
        problems.append(f"docs/troubleshooting.md does not explain {reason}")

# Relative links.
pages = [f"{root}/README.md"] + glob.glob(f"{root}/docs/*.md")
for page in pages:
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", open(page).read()):
        if re.match(r"[a-z]+:", target):
            continue
        if not os.path.exists(os.path.join(os.path.dirname(page), target)):
            problems.append(f"{os.path.relpath(page, root)} links to {target}, which does not exist")

for p in problems:
    print("  " + p, file=sys.stderr)
print(f"{len(code)} metrics, {len(reasons)} reasons: {' '.join(sorted(reasons))}; {len(pages)} pages' links")
sys.exit(1 if problems else 0)
PY
pass "metrics, condition and event reasons documented; links resolve"

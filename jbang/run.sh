#!/usr/bin/env bash
# Runs the router's YAML routes with Camel JBang (`camel run`) instead of the router's own main class.
#
#   mvn install -DskipTests                      # once: puts the router's thin jar into ~/.m2
#   jbang/run.sh my-models.camel.yaml --prop=router.port=8001 --prop=router.host=127.0.0.1
#
# Arguments ending in .yaml/.yml are route files (model routes: `from: model:<name>`), loaded with
# routes/*.camel.yaml; every other argument is passed on to `camel run` (see `jbang/run.sh --help`).
# Only routes/, config/application.properties and the router's beans and components run: the router's
# command-line flags (--static-backends, ...) and router.* keys other than the placeholders used in the
# routes are RouterMain's and do nothing here (docs/jbang.md).
set -euo pipefail
here=$PWD
cd "$(dirname "$0")/.."

JBANG_CLI=dev.jbang:jbang-cli:0.132.1
# camel-jbang-core 4.17.0 and the one-class launcher of camel-jbang-main 4.10.5 are the newest this
# Maven mirror has; override with CAMEL_JBANG_VERSION if yours has newer ones.
CAMEL_JBANG_VERSION=${CAMEL_JBANG_VERSION:-4.17.0}
LAUNCHER=org.apache.camel:camel-jbang-main:4.10.5
ROUTER_VERSION=$(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' pom.xml | head -1)
ROUTER_GAV=io.github.camelllmrouter:camel-llm-router:$ROUTER_VERSION
M2=${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}

if [ ! -f "$M2/io/github/camelllmrouter/camel-llm-router/$ROUTER_VERSION/camel-llm-router-$ROUTER_VERSION.jar" ]; then
    echo "run.sh: $ROUTER_GAV is not in $M2; run 'mvn install -DskipTests' first" >&2
    exit 1
fi

# jbang-cli with its dependencies, and the launcher jar alone: resolved once by Maven, classpath cached.
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/camel-llm-router-jbang
CP_FILE=$CACHE/classpath-${JBANG_CLI##*:}.txt
cached() {
    [ -s "$CP_FILE" ] || return 1
    local f
    for f in $(tr ':' ' ' < "$CP_FILE"); do [ -f "$f" ] || return 1; done
}
if ! cached; then
    mkdir -p "$CACHE"
    tmp=$(mktemp -d)
    IFS=: read -r jg ja jv <<< "$JBANG_CLI"
    IFS=: read -r lg la lv <<< "$LAUNCHER"
    cat > "$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>camel-jbang-classpath</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>$jg</groupId><artifactId>$ja</artifactId><version>$jv</version></dependency>
    <dependency><groupId>$lg</groupId><artifactId>$la</artifactId><version>$lv</version>
      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions></dependency>
  </dependencies>
</project>
EOF
    echo "run.sh: resolving $JBANG_CLI and $LAUNCHER with Maven ..." >&2
    out=$(mvn -q -B -f "$tmp/pom.xml" dependency:build-classpath -Dmdep.outputFile="$CP_FILE" 2>&1) \
        || { echo "$out" >&2; exit 1; }
    rm -rf "$tmp"
fi
CP=$(tr ':' '\n' < "$CP_FILE" | grep -v '/camel-jbang-main-' | paste -sd:)
LAUNCHER_JAR=$(tr ':' '\n' < "$CP_FILE" | grep '/camel-jbang-main-')

# Route files: routes/*.camel.yaml (but the demo's, whose backends only the router's main class starts) plus
# those given. application.properties sets camel.main.routes-include-pattern to routes/ only, so the pattern is
# overridden with exactly these files.
files=()
for f in routes/*.camel.yaml; do case "$f" in routes/demo-models.camel.yaml|routes/management.camel.yaml) ;; *) files+=("$f");; esac; done
args=()
port_given=false
for a in "$@"; do
    case "$a" in
        *.yaml|*.yml)
            [ "$here" = "$PWD" ] || [[ "$a" = /* ]] || a=$here/$a   # relative to where run.sh was called
            [ -f "$a" ] || { echo "run.sh: no such file: $a" >&2; exit 1; }
            files+=("$a") ;;
        --port|--port=*) port_given=true; args+=("$a") ;;
        *) args+=("$a") ;;
    esac
done
pattern=$(printf 'file:%s,' "${files[@]}"); pattern=${pattern%,}

# camel.server.enabled: JBang's embedded HTTP server (not the router's port) must exist before the
# metrics component asks for platform-http, or startup fails with "Circular dependency detected, the
# component platform-http is already being created". It gets a free port on 127.0.0.1 unless --port is given.
defaults=(--dep="$ROUTER_GAV" --prop=camel.server.enabled=true --prop=camel.server.host=127.0.0.1
          --prop=camel.main.routes-include-pattern="$pattern")
$port_given || defaults+=(--port=0)

# jbang-cli resolves camel-jbang-core and, instead of running it, prints the java command line (exit 255).
rc=0
cmd=$(java -cp "$CP" dev.jbang.Main --quiet --cp "$LAUNCHER_JAR" --main=main.CamelJBang \
      "org.apache.camel:camel-jbang-core:$CAMEL_JBANG_VERSION" \
      run "${files[@]}" config/application.properties "${defaults[@]}" "${args[@]}") || rc=$?
if [ "$rc" -ne 255 ]; then
    echo "run.sh: jbang exited with $rc" >&2
    exit "$rc"
fi
eval "exec $cmd"

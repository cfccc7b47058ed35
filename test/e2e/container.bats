#!/usr/bin/env bats
# contrib/kubernetes/uhw.yaml and contrib/container/Containerfile, as far as this machine can
# check them: no container engine or Kubernetes API runs here (and kubeconform is not
# installed), so the manifest is parsed as YAML and its settings are asserted, its ConfigMap
# is served by uhw the way the pod would run it (as an unprivileged user, with the probes'
# requests), and the image's runtime packages are checked against what build/uhw links.

load helpers

MANIFEST="$REPO/contrib/kubernetes/uhw.yaml"
CONTAINERFILE="$REPO/contrib/container/Containerfile"

# Evaluates a Python expression over the manifest's documents (`docs`), with Debian's PyYAML.
manifest() {
    /usr/bin/python3 -c '
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
kinds = {d["kind"]: d for d in docs}
pod = kinds["Deployment"]["spec"]["template"]["spec"]
c = pod["containers"][0]
print(eval(sys.argv[2]))' "$MANIFEST" "$1"
}

@test "kubernetes: the manifest parses; image, entrypoint, securityContext, probes and writable volumes" {
    run manifest '[d["kind"] for d in docs]'
    assert_output "['ConfigMap', 'Deployment', 'Service']"
    # The image the Containerfile builds (its comment names the tag), args only: the entrypoint is uhw.
    image=$(manifest 'c["image"]')
    grep -qF -- "-t $image ." "$CONTAINERFILE"
    grep -qx 'ENTRYPOINT \["/usr/local/bin/uhw"\]' "$CONTAINERFILE"
    run manifest '"command" in c, c["args"]'
    assert_output "(False, ['serve', '/etc/uhw/pools.yaml'])"
    # Not root, no privilege escalation, read-only root, no capabilities.
    run manifest 'pod["securityContext"]["runAsNonRoot"], pod["securityContext"]["runAsUser"]'
    assert_output "(True, 10001)"
    grep -q 'useradd --system --uid 10001' "$CONTAINERFILE"
    grep -qx 'USER 10001:10001' "$CONTAINERFILE"
    run manifest 'c["securityContext"]'
    assert_output "{'allowPrivilegeEscalation': False, 'readOnlyRootFilesystem': True, 'capabilities': {'drop': ['ALL']}}"
    # Readiness is /healthz on the http port; liveness is a command, not an HTTP request.
    run manifest 'c["readinessProbe"]["httpGet"], "httpGet" in c["livenessProbe"]'
    assert_output "({'path': '/healthz', 'port': 'http'}, False)"
    # Every path uhw writes is an emptyDir.
    run manifest 'sorted(m["mountPath"] for m in c["volumeMounts"] if "emptyDir" in [v for v in pod["volumes"] if v["name"] == m["name"]][0])'
    assert_output "['/run/uhw', '/tmp', '/var/log/uhw']"
}

@test "kubernetes: the ConfigMap's configuration is served as the pod runs it: unprivileged, with both probes" {
    # A root of our own that an unprivileged user can enter ($BATS_TEST_TMPDIR may be 0700).
    root=$(mktemp -d /tmp/uhw-k8s-test.XXXXXX)
    echo "$root" >"$BATS_TEST_TMPDIR/root"
    chmod 0755 "$root"
    mkdir -p "$root/etc/uhw" "$root/run/uhw" "$root/var/log/uhw" "$root/tmp" "$root/bin"
    # uhw and its shell helpers in the layout of the build tree (DIR/uhw, DIR/sh/).
    cp "$UHW_BUILD/uhw" "$root/bin/uhw"
    cp -r "$UHW_BUILD/sh" "$root/bin/sh"
    manifest 'kinds["ConfigMap"]["data"]["pools.yaml"]' | sed -e "s|/run/uhw|$root/run/uhw|; s|/var/log/uhw|$root/var/log/uhw|" \
        -e "s|/etc/uhw|$root/etc/uhw|; s|0.0.0.0:8080|127.0.0.1:0|" >"$root/etc/uhw/pools.yaml"
    manifest 'kinds["ConfigMap"]["data"]["app.sh"]' >"$root/etc/uhw/app.sh"
    chmod 0555 "$root/etc/uhw/app.sh"
    chmod 0777 "$root/run/uhw" "$root/var/log/uhw" "$root/tmp"
    as_user=()
    [ "$(id -u)" -ne 0 ] || as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    LOG="$BATS_TEST_TMPDIR/uhw.log"
    TMPDIR="$root/tmp" UHW_TEST_TAG=$TAG "${as_user[@]}" "$root/bin/uhw" serve "$root/etc/uhw/pools.yaml" 2>"$LOG" &
    UHW_PID=$!
    wait_for_log 'ready in [0-9]+ ms' || { cat "$LOG" >&2; return 1; }
    URL=$(grep -Eo 'listening on http://[^ ]+' "$LOG" | head -1 | sed 's/^listening on //')
    run hc -s -o /dev/null -w '%{http_code}' "$URL/healthz"        # readinessProbe
    assert_output "200"
    run "${as_user[@]}" "$root/bin/uhw" status -s "$root/run/uhw/uhw.sock" --compact   # livenessProbe
    assert_success
    run hc "$URL/some/path"
    assert_output --partial "GET /some/path"
    run grep -c 'status' "$LOG" # the liveness request left no log line
    assert_output "0"
    uhw_stop
    [ "$UHW_RC" -eq 0 ]
    assert_no_workers
}

teardown() {
    uhw_teardown
    if [ -f "$BATS_TEST_TMPDIR/root" ]; then rm -rf "$(cat "$BATS_TEST_TMPDIR/root")"; fi
}

@test "container: the build stage runs make's own targets; the runtime packages cover what uhw links" {
    grep -qE '^ && make deps-run' "$CONTAINERFILE"
    grep -qE '^ && make -j"\$\(nproc\)"' "$CONTAINERFILE"
    grep -qE '^ && make install DESTDIR=/out PREFIX=/usr/local' "$CONTAINERFILE"
    run make -C "$REPO" -n deps-run
    assert_success
    debs=$(sed -n 's/^ARG RUNTIME_DEBS="\(.*\)"/\1/p' "$CONTAINERFILE")
    [ -n "$debs" ]
    # Each shared library uhw loads comes from a listed package or from one they depend on.
    needed=$(ldd "$UHW_BUILD/uhw" | awk '$3 ~ /^\// {print $3}' | while read -r lib; do
        dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib"
    done | cut -d: -f1 | sort -u)
    # A SANITIZE=1 build also links the sanitizer runtimes and what they need: never in the image.
    sanitizers=$(grep -E '^lib(a|ub|l|t)san[0-9]*$' <<<"$needed" || true)
    if [ -n "$sanitizers" ]; then
        # shellcheck disable=SC2086
        needed=$(comm -23 <(echo "$needed") <(apt-cache depends --recurse --no-recommends --no-suggests \
            --no-conflicts --no-breaks --no-replaces --no-enhances $sanitizers 2>/dev/null | grep -v '^ ' |
            sed 's/:.*//' | sort -u))
    fi
    closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances $debs 2>/dev/null | grep -v '^ ' | sed 's/:.*//' | sort -u)
    [ -n "$closure" ]
    for pkg in $needed; do
        grep -qx "$pkg" <<<"$closure" || { echo "uhw links a library of $pkg, which RUNTIME_DEBS does not bring" >&2; return 1; }
    done
    for pkg in $debs; do
        apt-cache show "$pkg" >/dev/null 2>&1 || { echo "no Debian package named $pkg" >&2; return 1; }
    done
}

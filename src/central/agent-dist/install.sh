#!/bin/sh
# srvutil agent installer for Linux and macOS, served by the central at GET /install.sh.
#
#   curl -fsSL https://central.example/install.sh | sudo sh -s -- --enrol TOKEN
#
# Downloads the agent for this OS and CPU from the central it came from, checks
# its SHA-256 against the central's manifest, installs it as
# /usr/local/bin/srvutil-agent, and runs `srvutil-agent install --enrol TOKEN`
# (which trades the enrolment token for this server's own agent token and
# installs the service), then uploads once (`run --once`) and waits until
# `srvutil-agent status` shows the upload. Running it again is
# harmless: an executable that is already current is left alone, and an agent
# that already reports is not enrolled twice. This file holds no secret.
#
# Options:
#   --enrol TOKEN      the enrolment token (srvutil central enrol create)
#   --central URL      download from and enrol with this URL instead of the built-in one
#   --platform NAME    linux-x64, linux-arm64, darwin-x64, darwin-arm64, or node
#                      (the plain-Node bundle, for another CPU; needs Node >= 20)
#   --ca-file FILE     trust this CA for the central's TLS (curl and the agent)
#   --insecure         allow plain http:// to a host that is not loopback
#   --reenrol          enrol again although an agent already reports
#   --wait SECONDS     how long to wait for the first upload (default 120, 0: do not wait)
# Environment: SRVUTIL_INSTALL_ROOT (default /): a directory tree standing in for
# /, for tests. Everything goes into it: the executable, the agent directory
# (SRVUTIL_AGENT_DIR, unless set) and the service file; the service is not
# started (this system's service manager does not run that tree), and the
# paths written into the files name the tree as seen from here.
set -eu

CENTRAL_URL='@@CENTRAL_URL@@'
TOKEN=''
PLATFORM=''
CA_FILE=''
INSECURE=0
REENROL=0
WAIT_SECONDS=120

say() { printf 'srvutil install: %s\n' "$*" >&2; }
die() { printf 'srvutil install: error: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --enrol|--enroll) [ $# -ge 2 ] || die "$1 needs a value"; TOKEN=$2; shift 2 ;;
    --central) [ $# -ge 2 ] || die "$1 needs a value"; CENTRAL_URL=$2; shift 2 ;;
    --platform) [ $# -ge 2 ] || die "$1 needs a value"; PLATFORM=$2; shift 2 ;;
    --ca-file) [ $# -ge 2 ] || die "$1 needs a value"; CA_FILE=$2; shift 2 ;;
    --wait) [ $# -ge 2 ] || die "$1 needs a value"; WAIT_SECONDS=$2; shift 2 ;;
    --insecure) INSECURE=1; shift ;;
    --reenrol|--reenroll) REENROL=1; shift ;;
    -h|--help) sed -n '2,28p' "$0" 2>/dev/null || true; exit 0 ;;
    *) die "unknown option '$1' (see the comments at the top of this script)" ;;
  esac
done

case "$WAIT_SECONDS" in ''|*[!0-9]*) die "--wait: expected whole seconds, got '$WAIT_SECONDS'" ;; esac
CENTRAL_URL=${CENTRAL_URL%/}

# Plain http:// only to this machine: anyone on the path could swap the executable and the digest together.
case "$CENTRAL_URL" in
  https://*) ;;
  http://*)
    hostport=${CENTRAL_URL#http://}
    hostport=${hostport%%/*}
    case "$hostport" in
      localhost|localhost:*|127.*|'[::1]'|'[::1]:'*) ;;
      *)
        [ "$INSECURE" = 1 ] || die "refusing plain http:// to $hostport: use the central's https:// URL, or pass --insecure to accept an executable anyone on the network could replace"
        say "warning: plain http:// to $hostport (--insecure)"
        ;;
    esac
    ;;
  *) die "the central URL must start with https:// (got '$CENTRAL_URL')" ;;
esac

ROOT=${SRVUTIL_INSTALL_ROOT:-}
ROOT=${ROOT%/}
if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
  die "run as root (curl -fsSL $CENTRAL_URL/install.sh | sudo sh -s -- --enrol TOKEN)"
fi

if [ -z "$PLATFORM" ]; then
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) die "no agent executable for $(uname -s); see docs/platforms.md" ;;
  esac
  case "$(uname -m)" in
    x86_64|amd64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) die "no agent executable for $(uname -m): pass --platform node to use the plain-Node bundle (Node >= 20)" ;;
  esac
  PLATFORM=$os-$arch
fi
case "$PLATFORM" in
  linux-x64|linux-arm64|darwin-x64|darwin-arm64|node) ;;
  *) die "--platform: expected linux-x64, linux-arm64, darwin-x64, darwin-arm64 or node, got '$PLATFORM'" ;;
esac

BIN_DIR=$ROOT/usr/local/bin
EXE=$BIN_DIR/srvutil-agent
if [ "$PLATFORM" = node ]; then
  command -v node >/dev/null 2>&1 || die "--platform node needs node (>= 20) on the PATH"
  FILE=$ROOT/usr/local/lib/srvutil/srvutil-agent.mjs
else
  FILE=$EXE
fi

fetch() { # URL OUTFILE
  if command -v curl >/dev/null 2>&1; then
    if [ -n "$CA_FILE" ]; then curl -fsSL --proto '=https,http' --cacert "$CA_FILE" -o "$2" "$1"
    else curl -fsSL --proto '=https,http' -o "$2" "$1"; fi
  elif command -v wget >/dev/null 2>&1; then
    if [ -n "$CA_FILE" ]; then wget -q --ca-certificate="$CA_FILE" -O "$2" "$1"
    else wget -q -O "$2" "$1"; fi
  else
    die "needs curl or wget"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else die "needs sha256sum, shasum or openssl"; fi
}

mkdir -p "$BIN_DIR" "$(dirname "$FILE")" "$ROOT/usr/local/lib/srvutil"
TMP=$(mktemp "$(dirname "$FILE")/.srvutil-agent.XXXXXX")
MANIFEST=$(mktemp "${TMPDIR:-/tmp}/srvutil-manifest.XXXXXX")
trap 'rm -f "$TMP" "$MANIFEST"' EXIT INT TERM

fetch "$CENTRAL_URL/agent/manifest.json" "$MANIFEST" || die "cannot fetch $CENTRAL_URL/agent/manifest.json"
# The manifest puts each agent on its own line (docs/api.md), so one sed finds this platform's digest.
WANT=$(sed -n "s/.*\"platform\":\"$PLATFORM\".*\"sha256\":\"\([0-9a-f]\{64\}\)\".*/\1/p" "$MANIFEST")
[ -n "$WANT" ] || die "the central has no $PLATFORM agent in its manifest: its operator builds it with 'npm run build:agent-bin && npm run build:agent'"

# The digest of the download, kept beside it: on macOS the ad-hoc signature changes the bytes.
RECORD=$ROOT/usr/local/lib/srvutil/$(basename "$FILE").sha256
current() {
  [ -f "$FILE" ] || return 1
  [ "$(sha256_of "$FILE")" = "$WANT" ] && return 0
  [ "$PLATFORM" != node ] && [ "${PLATFORM%%-*}" = darwin ] && [ -f "$RECORD" ] && [ "$(cat "$RECORD")" = "$WANT" ]
}

if current; then
  say "$FILE is current ($WANT)"
else
  say "downloading the $PLATFORM agent from $CENTRAL_URL"
  fetch "$CENTRAL_URL/agent/$PLATFORM" "$TMP" || die "cannot download $CENTRAL_URL/agent/$PLATFORM"
  GOT=$(sha256_of "$TMP")
  [ "$GOT" = "$WANT" ] || die "SHA-256 mismatch for $PLATFORM: the manifest says $WANT, the download is $GOT; nothing installed"
  chmod 755 "$TMP"
  case "$PLATFORM" in
    # macOS runs no unsigned arm64 code; an ad-hoc signature needs no certificate (docs/agent.md).
    darwin-*) command -v codesign >/dev/null 2>&1 && codesign --sign - --force "$TMP" >/dev/null 2>&1 || say "warning: could not sign $FILE ad hoc (codesign --sign -)" ;;
  esac
  # Renamed into place: a running agent keeps its old file, and no one sees half a file.
  mv -f "$TMP" "$FILE"
  printf '%s\n' "$WANT" > "$RECORD"
  say "installed $FILE ($WANT)"
fi
if [ "$PLATFORM" = node ]; then
  printf '#!/bin/sh\nexec node "%s" "$@"\n' "$FILE" > "$TMP"
  chmod 755 "$TMP"
  mv -f "$TMP" "$EXE"
fi

SRVUTIL_CENTRAL_URL=$CENTRAL_URL
export SRVUTIL_CENTRAL_URL
if [ -n "$CA_FILE" ]; then SRVUTIL_AGENT_CA_FILE=$CA_FILE; export SRVUTIL_AGENT_CA_FILE; fi
if [ -n "$ROOT" ]; then
  # The agent's own paths inside the tree too, and no service manager asked to start it.
  if [ "$(uname -s)" = Darwin ]; then
    SRVUTIL_AGENT_DIR=${SRVUTIL_AGENT_DIR:-"$ROOT/Library/Application Support/srvutil"}
    SERVICE_DIR=$ROOT/Library/LaunchDaemons
  else
    SRVUTIL_AGENT_DIR=${SRVUTIL_AGENT_DIR:-$ROOT/var/lib/srvutil-agent}
    SERVICE_DIR=$ROOT/etc/systemd/system
  fi
  export SRVUTIL_AGENT_DIR
fi

last_upload() {
  "$EXE" status 2>/dev/null | sed -n 's/^last upload  *\([^ -].*\)$/\1/p' || true
}

if [ "$REENROL" = 0 ] && [ -n "$(last_upload)" ]; then
  say "an agent on this server already uploads (last upload $(last_upload)); not enrolling again (--reenrol to do it anyway)"
  exit 0
fi
[ -n "$TOKEN" ] || die "--enrol TOKEN is required (create one with: srvutil central enrol create --servers '<glob>')"

say "enrolling with $CENTRAL_URL"
set -- install --enrol "$TOKEN" --bin-dir "$BIN_DIR"
if [ -n "$ROOT" ]; then
  set -- "$@" --target-dir "$SERVICE_DIR" --no-activate
  say "SRVUTIL_INSTALL_ROOT is set: the service goes into $SERVICE_DIR and is not started"
fi
"$EXE" "$@" || die "'srvutil-agent install --enrol' failed (its message is above)"

if [ "$WAIT_SECONDS" -gt 0 ]; then
  # One sample and an upload now, rather than waiting for the service's first round (20 min by
  # default); if the service holds the spool's lock, its own upload is waited for instead.
  "$EXE" run --once >/dev/null 2>&1 || say "'srvutil-agent run --once' did not upload; waiting for the service"
  waited=0
  while [ "$waited" -lt "$WAIT_SECONDS" ]; do
    up=$(last_upload)
    if [ -n "$up" ]; then
      say "first upload at $up: the server appears on the central's dashboard"
      exit 0
    fi
    sleep 2
    waited=$((waited + 2))
  done
  die "installed, but no upload within ${WAIT_SECONDS} s: run 'srvutil-agent status' and see docs/agent.md"
fi
say "installed; not waiting for the first upload (--wait 0)"

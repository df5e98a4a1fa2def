#!/usr/bin/env bash
# deploy/asterisk/build.sh — Asterisk 22 LTS for Hotline 12345, built from the upstream release
# tarball on Debian 12 (Debian packages no Asterisk). Run as root on the PBX machine:
#
#   deploy/asterisk/build.sh                       # download, build, install, configure
#   deploy/asterisk/build.sh --dry-run             # print what it would do: packages, the
#                                                  # configure and menuselect lines, the modules
#   deploy/asterisk/build.sh --source DIR|FILE     # an unpacked source tree or a local tarball
#                                                  # (a server without internet)
#   deploy/asterisk/build.sh --cache DIR           # pjproject and sound tarballs, for offline
#
# What it does, each step skipped when already done (safe to run again; everything is logged
# to /var/log/hotline-asterisk-build.log):
#   1. the build dependencies from Debian's archive (apt-get)
#   2. the source: asterisk-$VERSION.tar.gz from downloads.asterisk.org (checked against
#      ASTERISK_SHA256 when given), or --source
#   3. ./configure (bundled pjproject for PJSIP), menuselect with exactly MODULES below
#      (--disable-all, then each one), make, make install (Debian layout: /usr/sbin/asterisk,
#      /etc/asterisk, /var/lib/asterisk, /var/log/asterisk, /var/spool/asterisk)
#   4. the system user "asterisk", a systemd unit (asterisk.service), and the configs: the
#      hotline's deploy/asterisk/*.conf plus a modules.conf loading exactly MODULES. A config
#      already in /etc/asterisk that differs is left alone; the new one is written next to it
#      as NAME.conf.hotline-new (your edits are never overwritten).
set -euo pipefail

VERSION="${ASTERISK_VERSION:-22.10.1}"              # an Asterisk 22 LTS release
URL="${ASTERISK_URL:-https://downloads.asterisk.org/pub/telephony/asterisk/releases/asterisk-$VERSION.tar.gz}"
SHA256="${ASTERISK_SHA256:-}"                       # the release's .sha256 file, if you have it
WORK="${ASTERISK_BUILD_DIR:-/usr/local/src/hotline-asterisk}"
LOG="${ASTERISK_BUILD_LOG:-/var/log/hotline-asterisk-build.log}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ETC=/etc/asterisk
DRY=0 SOURCE="" CACHE="" JOBS="$(nproc 2>/dev/null || echo 2)"

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --dry-run) DRY=1 ;;
    --source) SOURCE="${2:?--source DIR|FILE}"; shift ;;
    --cache) CACHE="${2:?--cache DIR}"; shift ;;
    --version) VERSION="${2:?--version X.Y.Z}"; shift
               URL="https://downloads.asterisk.org/pub/telephony/asterisk/releases/asterisk-$VERSION.tar.gz" ;;
    -j) JOBS="${2:?-j N}"; shift ;;
    -h|--help) usage 0 ;;
    *) echo "build.sh: unknown option $1" >&2; usage 2 ;;
    esac
    shift
done

# Debian 12 packages: the compiler and the libraries these modules need (libpq: cdr_pgsql;
# libssl, uuid, jansson, libxml2, libedit, sqlite: the core and PJSIP)
PACKAGES=(build-essential pkg-config wget bzip2 patch python3 libedit-dev libjansson-dev
          libxml2-dev libxslt1-dev uuid-dev libsqlite3-dev libssl-dev libpq-dev libsrtp2-dev)

# Exactly the modules the hotline needs (tests/unit/test_asterisk_build.py checks that they
# cover every application, function, AMI action and config the shipped files use).
# Local channels, the AMI, CDR core, features, indications and the dialplan built-ins (Answer,
# NoOp, Set, GotoIf, Busy, Congestion, Hangup) are part of the core.
MODULES=(
    # dialplan and its applications / functions
    pbx_config app_dial app_playback app_queue app_verbose app_mixmonitor app_stack
    func_callerid func_cdr func_channel func_groupcount func_logic
    # SIP phones and the carrier's trunk: PJSIP
    res_pjproject res_pjsip chan_pjsip res_pjsip_session res_pjsip_pubsub
    res_pjsip_authenticator_digest res_pjsip_outbound_authenticator_digest
    res_pjsip_endpoint_identifier_ip res_pjsip_endpoint_identifier_user
    res_pjsip_registrar res_pjsip_outbound_registration res_pjsip_sdp_rtp res_pjsip_caller_id
    res_pjsip_dtmf_info res_pjsip_nat res_pjsip_refer res_pjsip_rfc3326 res_pjsip_logger
    res_pjsip_exten_state res_pjsip_transport_management
    res_sorcery_config res_sorcery_memory res_sorcery_astdb
    res_rtp_asterisk res_timing_timerfd
    # bridges (queue calls, transfers), hold music, codecs and sound formats
    bridge_simple bridge_native_rtp bridge_builtin_features bridge_holding
    res_musiconhold codec_ulaw codec_alaw codec_g722 codec_gsm
    format_wav format_gsm format_pcm format_sln
    # call detail records into PostgreSQL (the hotline's audit trail of calls)
    cdr_pgsql
)
# sounds: the English core prompts (beep for *21/*22) and the default hold music
SOUNDS=(CORE-SOUNDS-EN-GSM MOH-OPSOUND-WAV)

CONFIGURE=(./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var --libdir=/usr/lib
           --with-pjproject-bundled --with-jansson-bundled=no --without-dahdi --without-pri
           --without-ss7 --without-radius)
if [ -n "$CACHE" ]; then
    CONFIGURE+=("--with-externals-cache=$CACHE" "--with-sounds-cache=$CACHE")
fi
MENUSELECT=(menuselect/menuselect --disable-all --enable OPTIONAL_API --disable BUILD_NATIVE)
for m in "${MODULES[@]}" "${SOUNDS[@]}"; do MENUSELECT+=(--enable "$m"); done
MENUSELECT+=(menuselect.makeopts)

if [ "$DRY" = 1 ]; then
    echo "asterisk: $VERSION"
    echo "source: ${SOURCE:-$URL}"
    echo "packages: ${PACKAGES[*]}"
    echo "configure: ${CONFIGURE[*]}"
    echo "menuselect: ${MENUSELECT[*]}"
    echo "make: make -j$JOBS && make install && make install-logrotate"
    echo "modules: ${MODULES[*]}"
    echo "sounds: ${SOUNDS[*]}"
    echo "configs: $(cd "$HERE" && ls ./*.conf | sed 's#^\./##' | tr '\n' ' ')modules.conf asterisk.conf logger.conf"
    echo "unit: /etc/systemd/system/asterisk.service"
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "build.sh: run it as root" >&2; exit 1; }
mkdir -p "$(dirname "$LOG")" "$WORK"
exec > >(tee -a "$LOG") 2>&1
step() { echo "== $(date -u +%FT%TZ) build.sh: $*"; }
step "Asterisk $VERSION for Hotline 12345 (log: $LOG)"

# 1. packages
missing=()
for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
    step "build packages present"
fi

# 2. source
if [ -n "$SOURCE" ] && [ -d "$SOURCE" ]; then
    SRC="$(cd "$SOURCE" && pwd)"
else
    TARBALL="${SOURCE:-$WORK/asterisk-$VERSION.tar.gz}"
    if [ ! -f "$TARBALL" ]; then
        step "downloading $URL"
        wget -q -O "$TARBALL.part" "$URL" && mv "$TARBALL.part" "$TARBALL"
    fi
    if [ -n "$SHA256" ]; then
        echo "$SHA256  $TARBALL" | sha256sum -c - || { echo "build.sh: $TARBALL: checksum mismatch" >&2; exit 1; }
    fi
    top="$(tar -tzf "$TARBALL" | head -1 | cut -d/ -f1)"
    SRC="$WORK/$top"
    [ -d "$SRC" ] || { step "unpacking $TARBALL"; tar -xzf "$TARBALL" -C "$WORK"; }
fi
cd "$SRC"

# 3. configure, menuselect, build, install — skipped when this version with these modules is installed
want="$VERSION $(printf '%s ' "${MODULES[@]}" | sha1sum | cut -c1-12)"
if [ -x /usr/sbin/asterisk ] && [ "$(cat /usr/lib/asterisk/.hotline-build 2>/dev/null)" = "$want" ]; then
    step "Asterisk $VERSION with these modules already installed"
else
    step "${CONFIGURE[*]}"
    "${CONFIGURE[@]}"
    make menuselect.makeopts
    step "${MENUSELECT[*]}"
    "${MENUSELECT[@]}"
    menuselect/menuselect --check-deps menuselect.makeopts
    step "make -j$JOBS"
    make -j"$JOBS"
    make install
    make install-logrotate || true
    echo "$want" > /usr/lib/asterisk/.hotline-build
    for m in "${MODULES[@]}"; do
        [ -f "/usr/lib/asterisk/modules/$m.so" ] || { echo "build.sh: module $m was not built" >&2; exit 1; }
    done
fi

# 4. user, directories, configs, unit
id asterisk >/dev/null 2>&1 || useradd --system --home-dir /var/lib/asterisk --shell /usr/sbin/nologin asterisk
install -d -o root -g asterisk -m 750 "$ETC"
for d in /var/lib/asterisk /var/log/asterisk /var/spool/asterisk /var/run/asterisk; do
    install -d -o asterisk -g asterisk -m 750 "$d"
done
chown -R asterisk:asterisk /var/lib/asterisk /var/log/asterisk /var/spool/asterisk

gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT
cp "$HERE"/*.conf "$gen/"
{
    echo "; written by deploy/asterisk/build.sh: exactly the modules the hotline needs"
    echo "[modules]"
    echo "autoload = no"
    for m in "${MODULES[@]}"; do echo "load = $m.so"; done
} > "$gen/modules.conf"
cat > "$gen/asterisk.conf" <<'EOF'
; written by deploy/asterisk/build.sh
[directories](!)
astetcdir => /etc/asterisk
astmoddir => /usr/lib/asterisk/modules
astvarlibdir => /var/lib/asterisk
astdbdir => /var/lib/asterisk
astkeydir => /var/lib/asterisk
astdatadir => /var/lib/asterisk
astagidir => /var/lib/asterisk/agi-bin
astspooldir => /var/spool/asterisk
astrundir => /var/run/asterisk
astlogdir => /var/log/asterisk
astsbindir => /usr/sbin

[options]
runuser = asterisk
rungroup = asterisk
EOF
[ -f "$gen/logger.conf" ] || cat > "$gen/logger.conf" <<'EOF'
; written by deploy/asterisk/build.sh
[general]
[logfiles]
console => notice,warning,error
messages.log => notice,warning,error,verbose(3)
EOF
for f in "$gen"/*.conf; do
    name="$(basename "$f")"
    if [ ! -f "$ETC/$name" ]; then
        install -o root -g asterisk -m 640 "$f" "$ETC/$name"; step "config $ETC/$name"
    elif ! cmp -s "$f" "$ETC/$name"; then
        install -o root -g asterisk -m 640 "$f" "$ETC/$name.hotline-new"
        step "config $ETC/$name differs (yours kept): the shipped one is $ETC/$name.hotline-new"
    fi
done

cat > /etc/systemd/system/asterisk.service.new <<'EOF'
[Unit]
Description=Asterisk PBX (Hotline 12345, built by deploy/asterisk/build.sh)
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
Type=simple
ExecStart=/usr/sbin/asterisk -f -C /etc/asterisk/asterisk.conf
ExecReload=/usr/sbin/asterisk -rx 'core reload'
ExecStop=/usr/sbin/asterisk -rx 'core stop gracefully'
Restart=on-failure
RestartSec=2
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
EOF
if cmp -s /etc/systemd/system/asterisk.service.new /etc/systemd/system/asterisk.service; then
    rm /etc/systemd/system/asterisk.service.new
else
    mv /etc/systemd/system/asterisk.service.new /etc/systemd/system/asterisk.service
    step "unit /etc/systemd/system/asterisk.service"
    if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
fi
step "done: replace every change-me-* in $ETC, then: systemctl enable --now asterisk && asterisk -rx 'core show version'"

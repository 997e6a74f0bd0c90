#!/usr/bin/env bash
# The report's browser tests open the page in headless Chromium. On a bare Debian/Ubuntu
# machine, install Debian's `chromium` package with apt-get (as root, or with passwordless
# sudo). Where that is impossible, say so loudly: the tests then skip with the same message.
set -euo pipefail
for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then exit 0; fi
done
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
    if [ "$SUDO" != none ]; then
        echo "installing chromium (apt-get) for the report's browser tests" >&2
        $SUDO apt-get update -qq
        # Debian names it chromium; Ubuntu's chromium-browser is a snap shim, tried second
        if DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null \
            || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium-browser >/dev/null; then
            exit 0
        fi
    fi
fi
cat >&2 <<'MSG'
************************************************************************************
* WARNING: no Chromium, and apt-get could not install one (no apt, no root/sudo).  *
* The report's browser tests (tests/report/test_report_browser.py) will be SKIPPED. *
* Install Debian's `chromium` package to run them.                                 *
************************************************************************************
MSG
exit 0

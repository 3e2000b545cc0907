#!/usr/bin/env bash
# Before `make logs` / `make load`: is there a testbed to talk to? Looks for KUBE_CONTEXT in the kubeconfig
# (KUBECONFIG or ~/.kube/config) without running kubectl, so nothing is downloaded when the answer is no; when it
# is yes and KUBECTL is the pinned ./bin one, installs it. Reads KUBECTL and KUBE_CONTEXT from the environment.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${KUBECTL:?}" "${KUBE_CONTEXT:?}"
found=0
IFS=: read -ra files <<<"${KUBECONFIG:-$HOME/.kube/config}"
for f in "${files[@]}"; do
  # kubectl's own files name each context as "- context: … name: <name>"; a plain text match is enough here.
  if [ -r "$f" ] && grep -Eq "^[[:space:]-]*name: \"?$KUBE_CONTEXT\"?[[:space:]]*$" "$f"; then found=1; fi
done
if ((found == 0)); then
  echo "No kube context '$KUBE_CONTEXT' in ${KUBECONFIG:-$HOME/.kube/config}: the testbed is not up (make up), or pass KUBE_CONTEXT=<your context>." >&2
  exit 1
fi
if [[ $KUBECTL == bin/* && ! -x $root/$KUBECTL ]]; then (cd "$root" && hack/tools/install.sh kubectl >/dev/null); fi

#!/usr/bin/env bash
# The cluster's PKI: CA, API server serving cert, kubelet client cert, service-account key,
# static tokens per component, kubeconfigs. Made once per cluster (down removes it).
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
mkdir -p "$PKI"
cd "$PKI"
umask 077

if [ ! -f ca.key ]; then
  openssl genrsa -out ca.key 2048 2>/dev/null
  openssl req -x509 -new -key ca.key -subj "/CN=recsys-cluster-ca" -days 3650 -out ca.crt
fi
if [ ! -f apiserver.crt ]; then
  openssl genrsa -out apiserver.key 2048 2>/dev/null
  cat > apiserver.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SVC_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$DOMAIN
EXT
  openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile apiserver.ext -out apiserver.crt 2>/dev/null
fi
if [ ! -f kubelet-client.crt ]; then  # API server -> kubelet (logs, exec, port-forward)
  openssl genrsa -out kubelet-client.key 2048 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > client.ext
  openssl req -new -key kubelet-client.key -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" \
    -out kubelet-client.csr
  openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile client.ext -out kubelet-client.crt 2>/dev/null
fi
[ -f sa.key ] || openssl genrsa -out sa.key 2048 2>/dev/null
[ -f sa.pub ] || openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
if [ ! -f tokens.csv ]; then
  token() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
  {
    echo "$(token),admin,admin,system:masters"
    echo "$(token),system:kube-controller-manager,kcm"
    echo "$(token),system:kube-scheduler,scheduler"
    echo "$(token),system:node:$NODE_NAME,kubelet,system:nodes"
    echo "$(token),system:kube-proxy,kube-proxy"
  } > tokens.csv
fi

kubeconfig() {  # name user
  local token
  token=$(awk -F, -v u="$2" '$2 == u {print $1}' tokens.csv)
  cat > "$S/$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: recsys, cluster: {server: "https://$NODE_IP:$API_PORT", certificate-authority: "$PKI/ca.crt"}}]
users: [{name: $1, user: {token: "$token"}}]
contexts: [{name: recsys, context: {cluster: recsys, user: $1, namespace: default}}]
current-context: recsys
KC
}
kubeconfig admin admin
kubeconfig kcm system:kube-controller-manager
kubeconfig scheduler system:kube-scheduler
kubeconfig kubelet "system:node:$NODE_NAME"
kubeconfig kube-proxy system:kube-proxy

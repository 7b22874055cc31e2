# Open Policy Agent, the binary deploy/provision.sh built with `go install` at the version in
# deploy/versions.env, staged by deploy/docker/build.sh. The policies are not in the image:
# docker-compose.yml mounts policies/ and the Helm chart a ConfigMap.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN groupadd --gid 10001 opa \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin opa
COPY opa /usr/local/bin/opa
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/opa"]
CMD ["run", "--server", "--addr=0.0.0.0:8181", "/policies"]

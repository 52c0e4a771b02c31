# The Berth server image. It packages what ./scripts/run (or `berth_build release`)
# built on the host: the `berth` binary and the web assets. Build it with
# ./scripts/docker-image, which builds both first.
#
# BASE defaults to debian:bookworm-slim; where no registry serves it, pass the
# locally imported Debian base: --build-arg BASE=berth/debian-base:bookworm
# (made by images/build.sh).
ARG BASE=debian:bookworm-slim
FROM ${BASE}

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/berth --create-home berth

COPY target/release/berth /usr/local/bin/berth
COPY target/site /usr/share/berth/site

ENV LEPTOS_SITE_ROOT=/usr/share/berth/site \
    BERTH_ADDR=0.0.0.0:3000 \
    BERTH_LOG_FORMAT=json
USER berth
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/3000"]
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["serve"]

# tomcat-health-agent as a container beside a Tomcat container: the single executable on
# Debian bookworm-slim, no Node.js in the image.
# Build: node packaging/sea/build.mjs && docker build -t tomcat-health-agent .
# Run:   docker run -d --name agent -p 9990:9990 -v agent-state:/var/lib/tomcat-health-agent \
#          -e HEALTH_AGENT_TOMCAT_URL=http://tomcat:8080/app/health tomcat-health-agent
#        docker exec agent agentctl drain --reason deploy
# Configure it with the same HEALTH_AGENT_* variables as everywhere (see README.md).
# BASE: another bookworm image (the tests import one made with debootstrap).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
COPY dist/sea/tomcat-health-agent /usr/bin/tomcat-health-agent
RUN ln -s tomcat-health-agent /usr/bin/health-agent \
 && ln -s tomcat-health-agent /usr/bin/agentctl \
 && groupadd --system tomcat-health-agent \
 && useradd --system --gid tomcat-health-agent --home-dir /var/lib/tomcat-health-agent --shell /usr/sbin/nologin tomcat-health-agent \
 && install -d -o tomcat-health-agent -g tomcat-health-agent -m 0750 /var/lib/tomcat-health-agent
# docker exec ... agentctl finds the agent from these, as the agent does.
ENV HEALTH_AGENT_LISTEN=0.0.0.0:9990 \
    HEALTH_AGENT_ADMIN_LISTEN=127.0.0.1:9991
# The state, audit log and admin token live here: keep them on a volume so a new container keeps the state.
VOLUME /var/lib/tomcat-health-agent
USER tomcat-health-agent
EXPOSE 9990
# Healthy when the agent answers at all (its status page), whatever state it reports to the load
# balancers: a drained agent is a working agent. bash's /dev/tcp: no second runtime every 10 s.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${HEALTH_AGENT_LISTEN##*:} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && read -r _ status _ <&3 && [ \"$status\" = 200 ]"]
# The agent is PID 1 and handles SIGTERM itself: it closes its listeners and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tomcat-health-agent", "health-agent"]

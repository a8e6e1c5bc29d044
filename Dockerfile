# tomcat-health-agent as a container beside a Tomcat container.
# Build: docker build -t tomcat-health-agent .
# Run:   docker run -d --name agent -p 9990:9990 -v agent-state:/var/lib/tomcat-health-agent \
#          -e HEALTH_AGENT_TOMCAT_URL=http://tomcat:8080/app/health tomcat-health-agent
# Configure it with the same HEALTH_AGENT_* variables as everywhere (see README.md).

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs scripts/bundle.mjs
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY agent/src agent/src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HEALTH_AGENT_DATA_DIR=/var/lib/tomcat-health-agent \
    HEALTH_AGENT_LISTEN=0.0.0.0:9990 \
    HEALTH_AGENT_ADMIN_LISTEN=127.0.0.1:9991
WORKDIR /opt/tomcat-health-agent
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/bin ./dist/bin
COPY scripts ./scripts
RUN ln -s /opt/tomcat-health-agent/dist/bin/agentctl.mjs /usr/local/bin/agentctl \
 && mkdir -p /var/lib/tomcat-health-agent && chown node:node /var/lib/tomcat-health-agent
# The state, audit log and admin token live here: keep them on a volume so a new container keeps the state.
VOLUME /var/lib/tomcat-health-agent
USER node
EXPOSE 9990
# The container is healthy when the agent answers at all (its status page), whatever state it
# reports to the load balancers: a drained agent is a working agent.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const p=(process.env.HEALTH_AGENT_LISTEN||'0.0.0.0:9990').split(':').pop();require('http').get({host:'127.0.0.1',port:p,path:'/'},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/bin/health-agent.mjs"]

import type { FastifyPluginAsync } from 'fastify'
import type { AdminRouteOptions } from './admin.js'

/** `GET /v1/traffic`: Tomcat's answers in the deploy in force, from its access log (agentctl canary reads it). */
export const trafficRoutes: FastifyPluginAsync<AdminRouteOptions> = async (app, { core }) => {
  app.get('/v1/traffic', async () => core.traffic())
}

import { Type, type Static } from '@sinclair/typebox'

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const

/**
 * `GET /v1/traffic` on the admin listener: Tomcat's answers in the deploy in force, as the access
 * log tells them (see tomcat/access-traffic.ts). Counters only grow within a deploy; a watcher
 * takes two documents and subtracts.
 */
export const TrafficSchema = Type.Object({
  /** false when --access-log-file is not set: nothing else is meaningful then. */
  enabled: Type.Boolean(),
  at: Type.String({ description: 'ISO time of the document' }),
  /** The deploy in force: when the agent saw this Tomcat run come up (or its own start). */
  deploy: Type.Union([Type.String(), Type.Null()]),
  responses: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'responses by status class (1xx..5xx)' }),
  duration: Type.Object({
    count: Type.Integer({ minimum: 0 }),
    sumSeconds: Type.Number({ minimum: 0 }),
    /** Cumulative counts at each upper bound in seconds, as in a Prometheus histogram (without +Inf). */
    buckets: Type.Array(Type.Object({ le: Type.Number(), count: Type.Integer({ minimum: 0 }) })),
  }),
  /** Lines not counted since the agent started, by kind. */
  errors: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
})

export type Traffic = Static<typeof TrafficSchema>

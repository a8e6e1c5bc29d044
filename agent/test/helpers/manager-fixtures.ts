/** The shape of Tomcat 10.1's `/manager/status?XML=true` (StatusTransformer, XML mode), two connectors. */
export function statusXml(busy: [number, number]): string {
  const connector = (name: string, n: number) =>
    `<connector name='"${name}"'><threadInfo  maxThreads="200" currentThreadCount="10" currentThreadsBusy="${n}" />` +
    `<requestInfo  maxTime="463" processingTime="500" requestCount="12" errorCount="0" bytesReceived="0" bytesSent="1234" />` +
    `<workers><worker  stage="S" requestProcessingTime="2" requestBytesSent="0" requestBytesReceived="0" remoteAddr="127.0.0.1" virtualHost="127.0.0.1" method="GET" currentUri="/manager/status" currentQueryString="XML=true" protocol="HTTP/1.1" /></workers></connector>`
  return (
    `<?xml version="1.0" encoding="utf-8"?><?xml-stylesheet type="text/xsl" href="/manager/xform.xsl" ?>\n` +
    `<status><jvm><memory free='1000' total='2000' max='268435456'/><memorypool name='Eden Space' type='Heap memory' usageInit='1' usageCommitted='2' usageMax='3' usageUsed='4'/></jvm>` +
    connector('http-nio-127.0.0.1-8080', busy[0]) +
    connector('http-nio-127.0.0.1-8443', busy[1]) +
    '</status>'
  )
}

/** The shape of Tomcat 10.1's `/manager/text/sessions?path=...` (ManagerServlet.sessions). */
export function sessionsText(context: string, buckets: number[]): string {
  const lines = [
    `OK - Session information for application at context path [${context}]`,
    'Default maximum session inactive interval is [30] minutes',
  ]
  if (buckets[0]) lines.push(`Inactive for [<1] minutes: [${buckets[0]}] sessions`)
  buckets.slice(1).forEach((n, i) => {
    if (n) lines.push(`Inactive for [${i + 1} - <${i + 2}] minutes: [${n}] sessions`)
  })
  return `${lines.join('\n')}\n`
}

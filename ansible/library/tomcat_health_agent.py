#!/usr/bin/python3
# -*- coding: utf-8 -*-
# Sets the admin state of the local tomcat-health-agent through its agentctl, optionally waiting
# until every load balancer confirms it. Reports `changed` only when the admin state changed.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: tomcat_health_agent
short_description: Set the admin state of tomcat-health-agent (ready, drain, down)
description:
  - Runs the agent's own C(agentctl) on the host. C(changed) is true only when the agent's admin
    state changed; in check mode nothing is set and C(changed) says whether it would be.
  - The agent's status (C(agentctl --json)) is returned as C(status), and with I(wait) the wait's
    last event as C(wait).
options:
  state:
    description: The admin state to set.
    required: true
    choices: [ready, drain, down]
    type: str
  wait:
    description:
      - Wait until every load balancer confirms the state (drain, no session left; down, no
        traffic; ready, all report UP). Also when the state was already set.
    type: bool
    default: false
  timeout:
    description: Seconds to wait before failing (the state stays set).
    type: int
    default: 300
  force_after:
    description: Seconds after which the wait ends anyway (success, with a warning).
    type: int
  reason:
    description: Why; stored in the state file and the audit log.
    type: str
    default: ansible
  install_dir:
    description: Where the package is installed (its dist/bin/agentctl.mjs is run with node).
    type: path
    default: /opt/tomcat-health-agent
  data_dir:
    description: The agent's data folder (its admin token is there unless token_file is set).
    type: path
    default: /var/lib/tomcat-health-agent
  token_file:
    description: The agent's admin token file.
    type: path
  agent:
    description: The agent's admin address (http://HOST:PORT or unix:/PATH); default the agent's.
    type: str
'''

EXAMPLES = r'''
- name: Drain this server and wait until every load balancer confirms it
  tomcat_health_agent:
    state: drain
    wait: true
    timeout: 120
    reason: "kernel update"
  register: drained
'''

RETURN = r'''
state:
  description: The admin state after the call.
  returned: always
  type: str
previous_state:
  description: The admin state before the call.
  returned: always
  type: str
status:
  description: The agent's status (agentctl status --json).
  returned: always
  type: dict
wait:
  description: The wait's last event (outcome confirmed, forced or timeout), with I(wait).
  returned: when wait is true and not in check mode
  type: dict
'''

import json
import os

from ansible.module_utils.basic import AnsibleModule

# agentctl's exit codes (agent/src/cli/exit-codes.ts).
EXIT_MEANING = {
    1: 'not confirmed in time (the state stays set)',
    2: 'bad usage',
    3: 'agent unreachable',
    4: 'refused by the agent',
    5: 'the agent failed',
}


def agentctl(module, args):
    p = module.params
    cmd = [module.get_bin_path('node', required=True), os.path.join(p['install_dir'], 'dist/bin/agentctl.mjs')] + args + ['--json']
    if p['agent']:
        cmd += ['--agent', p['agent']]
    if p['token_file']:
        cmd += ['--token-file', p['token_file']]
    rc, out, err = module.run_command(cmd, environ_update={'HEALTH_AGENT_DATA_DIR': p['data_dir']})
    try:
        doc = json.loads(out) if out.strip() else None
    except ValueError:
        doc = None
    return rc, doc, err.strip()


def admin_state(status):
    return ((status or {}).get('admin') or {}).get('state')


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', required=True, choices=['ready', 'drain', 'down']),
            wait=dict(type='bool', default=False),
            timeout=dict(type='int', default=300),
            force_after=dict(type='int'),
            reason=dict(type='str', default='ansible'),
            install_dir=dict(type='path', default='/opt/tomcat-health-agent'),
            data_dir=dict(type='path', default='/var/lib/tomcat-health-agent'),
            token_file=dict(type='path'),
            agent=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    rc, before, err = agentctl(module, ['status'])
    if rc != 0 or before is None:
        module.fail_json(msg='agentctl status failed (exit %d, %s): %s' % (rc, EXIT_MEANING.get(rc, 'unexpected'), err), rc=rc)
    previous = admin_state(before)
    changed = previous != p['state']
    if module.check_mode:
        module.exit_json(changed=changed, state=previous, previous_state=previous, status=before)

    args = [p['state'], '--reason', p['reason']]
    if p['wait']:
        args += ['--wait', '--timeout', str(p['timeout'])]
        if p['force_after']:
            args += ['--force-after', str(p['force_after'])]
    rc, doc, err = agentctl(module, args)
    status = (doc or {}).get('status', doc) if p['wait'] else doc
    result = dict(changed=changed, state=admin_state(status) or p['state'], previous_state=previous, status=status)
    if p['wait']:
        result['wait'] = (doc or {}).get('wait')
    if rc != 0:
        module.fail_json(msg='agentctl %s failed (exit %d, %s): %s' % (p['state'], rc, EXIT_MEANING.get(rc, 'unexpected'), err), rc=rc, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

/** The context every sandboxctl command runs with. */

import type { BaseContext } from 'clipanion';

/** clipanion's context plus the raw args, which `main` always provides. */
export interface SandboxctlContext extends BaseContext {
  /**
   * The args the command was parsed from, path included: clipanion 3 keeps
   * no order between different options, and ops apply in argv order.
   */
  argv: readonly string[];
}

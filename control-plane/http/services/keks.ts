/**
 * @module `POST /v1/admin/keks/rotate`: a new key-encryption key, every data key rewrapped under
 * it while the control plane keeps serving, and the old KEKs retired.
 */
import type { Services } from '../../services.ts'
import type { Router } from '../route.ts'

export function kekRoutes(router: Router, s: Services): void {
  router.on('rotateKek', async () => {
    const result = await s.kekRotation.rotate()
    return {
      kek_id: result.kekId,
      rewrapped: result.rewrapped,
      retired_kek_ids: result.retiredKekIds,
      unreadable: result.unreadable,
    }
  })
}

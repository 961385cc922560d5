/**
 * The driver Worker's entry point: exposes a DriverService over comlink.
 * The device control plane and the driver live here, so control requests are
 * answered even while the page's AudioContext is suspended.
 */

import * as Comlink from 'comlink';
import { DriverService } from './driver-service.ts';

Comlink.expose(new DriverService());

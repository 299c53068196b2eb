import { Logger } from '@nestjs/common';

// Unit specs construct Nest providers directly; their log lines would only be noise.
Logger.overrideLogger(false);

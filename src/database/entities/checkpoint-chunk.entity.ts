import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Checkpoint } from './checkpoint.entity.js';

/** Checkpoints are split so no single bytea value (or pg message) has to hold a whole model. */
@Entity('checkpoint_chunks')
export class CheckpointChunk {
  @PrimaryColumn('uuid')
  checkpoint_id: string;

  @PrimaryColumn('int')
  idx: number;

  @ManyToOne(() => Checkpoint, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'checkpoint_id' })
  checkpoint?: Checkpoint;

  @Column('char', { length: 64 })
  sha256: string;

  @Column('bytea')
  data: Buffer;
}
